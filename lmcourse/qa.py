"""Extractive question answering: the answer is a span of a passage, found by two logits per token.

Given a question and a passage, an *extractive* reader does not write an answer: it points at
one. The question and the passage go into the encoder as one pair, ``[CLS] question [SEP]
passage [SEP]``; a linear layer turns every token vector into two numbers, a **start logit**
and an **end logit** (:class:`SpanQA`, the same head as ``transformers``'
``BertForQuestionAnswering``). Training is two cross-entropies, one over the positions for the
answer's first token and one for its last (:func:`span_loss`). Reading the answer back out is a
small search (:func:`best_spans`): the pair (start, end) with the largest start + end logit
among the *valid* ones — start <= end, at most ``max_answer_len`` tokens, both inside the passage.

Scores as SQuAD (Rajpurkar et al. 2016) defines them, ported from its official evaluation
script (v1.1): both strings are normalised (lower case, punctuation deleted, the articles
a/an/the removed, white space collapsed); **exact match** is 1 when the normalised strings are
equal, **F1** is the harmonic mean of token precision and recall over the normalised tokens;
each takes the best over the gold answers, and the corpus score is the mean, in percent.

The data (:func:`make_qa_data`) is written by code for the course: short passages about made-up
bridges, festivals, animals and workshops (made up, so that the answer can only come from the
passage, not from what a pretrained model remembers), each with several facts and questions in
several phrasings. Held-out passages, and held-out phrasings, measure what the reader learned.
:func:`retrieve_and_read` puts the semantic search of :mod:`lmcourse.retrieval` in front of it:
find the passage first, then extract the span.
"""

from __future__ import annotations

import copy
import random
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import bool_mask, integer, number, tensor, token_ids

# ---------------------------------------------------------------- SQuAD's metrics

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, delete punctuation, drop a/an/the, collapse white space.

    The order is the official script's: ``"The Eiffel-Tower!"`` becomes ``"eiffeltower"``
    (punctuation is deleted, not replaced by a space).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _check_answers(prediction, gold_answers) -> list[str]:
    if not isinstance(prediction, str):
        raise TypeError(f"prediction must be a str; got {type(prediction).__name__}")
    if isinstance(gold_answers, str) or not isinstance(gold_answers, Sequence) or len(gold_answers) == 0:
        raise ValueError(f"gold_answers must be a non-empty list of strings; got {gold_answers!r:.60}")
    if not all(isinstance(g, str) for g in gold_answers):
        raise TypeError("gold_answers must contain only strings")
    return list(gold_answers)


def _f1_one(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())   # shared tokens, with multiplicity
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals one of the normalised gold answers, else 0.0."""
    golds = _check_answers(prediction, gold_answers)
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD's token F1 between the prediction and the best-matching gold answer, in [0, 1]."""
    golds = _check_answers(prediction, gold_answers)
    return max(_f1_one(prediction, g) for g in golds)


def squad_scores(predictions: Sequence[str], gold_answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus scores as SQuAD's script prints them: ``{"exact_match": %, "f1": %}`` (means × 100)."""
    if isinstance(predictions, str) or len(predictions) != len(gold_answers) or len(predictions) == 0:
        raise ValueError(f"predictions and gold_answers must be non-empty lists of the same length; "
                         f"got {len(predictions)} and {len(gold_answers)}")
    n = len(predictions)
    return {"exact_match": 100.0 * sum(exact_match(p, g) for p, g in zip(predictions, gold_answers)) / n,
            "f1": 100.0 * sum(token_f1(p, g) for p, g in zip(predictions, gold_answers)) / n}


# ---------------------------------------------------------------- the course's question/passage/answer triples

@dataclass(frozen=True)
class QAExample:
    """One question about one passage: ``answers[0]`` starts at ``context[answer_start:]``."""

    question: str
    context: str
    answers: tuple[str, ...]      # every gold answer; the first is the span in the passage
    answer_start: int             # character offset of answers[0] in context
    passage: str                  # the passage's name, e.g. "bridge-3"
    fact: str                     # what is asked, e.g. "designer"


@dataclass
class QAData:
    """Passages and questions: training passages, and held-out passages asked in known or new phrasings."""

    passages: dict[str, str]
    train: list[QAExample] = field(default_factory=list)
    test_known_phrasing: list[QAExample] = field(default_factory=list)
    test_new_phrasing: list[QAExample] = field(default_factory=list)
    test_passages: list[str] = field(default_factory=list)


_FIRST = ("Ada", "Tomas", "Mira", "Jonas", "Lena", "Oskar", "Ines", "Pavel", "Rosa", "Emil", "Clara", "Viktor",
          "Nora", "Felix", "Hanna", "Leon", "Sofia", "Anton", "Irene", "Marek", "Yara", "Bruno", "Elif", "Kasimir")
_LAST = ("Krone", "Vale", "Ostrow", "Brandt", "Sorel", "Lindqvist", "Marsh", "Okafor", "Tanaka", "Reyes", "Novak",
         "Hale", "Dumont", "Castell", "Weber", "Ferro", "Quist", "Aldana", "Morrow", "Keane", "Petrov", "Amari")
_SYLLABLES = ("var", "nel", "os", "ke", "lu", "men", "dra", "tor", "bel", "quin", "ash", "mor", "ve", "ril", "tan",
              "do", "sa", "gar", "pel", "wen", "ca", "lis", "bro", "fen", "ta", "rim", "hol", "zen")
_VALUES = {
    "material": ("grey granite", "red brick", "cast iron", "white limestone", "oak timber", "reinforced concrete",
                 "dark basalt", "riveted steel"),
    "month": ("January", "March", "April", "May", "June", "August", "September", "October", "November"),
    "food": ("smoked trout", "honey cakes", "wild mushrooms", "pickled plums", "chestnut bread", "goat cheese",
             "apple cider", "roasted corn", "beetroot soup"),
    "prize": ("silver spoon", "golden bell", "carved walking stick", "copper kettle", "glass lantern", "woollen scarf"),
    "craft": ("basket weaver", "wood carver", "potter", "fiddle player", "cheese maker", "storyteller"),
    "animal": ("lizard", "owl", "shrew", "frog", "bat", "tortoise", "finch", "marten"),
    "diet": ("beetles", "pine seeds", "moths", "snails", "berries", "small fish", "grasshoppers", "moss"),
    "bodypart": ("tail", "throat", "crest", "belly", "back"),
    "colour": ("orange", "blue", "yellow", "green", "purple", "crimson", "turquoise"),
    "product": ("iron nails", "church bells", "sewing needles", "wooden toys", "copper pipes", "pocket knives",
                "oil lamps", "bicycle frames"),
    "product2": ("telescopes", "music boxes", "wristwatches", "printing presses", "typewriters", "pianos",
                 "sailing compasses", "weather vanes"),
}

# Each kind: a passage template, then per fact: (slot, extra gold answers, training phrasings, held-out phrasings).
# Every passage has two facts of the same type (two people, two years or two numbers), so a question cannot be
# answered by the answer's type alone.
_KINDS = {
    "bridge": (
        "The {name} Bridge crosses the {river} River near the town of {town}. It was designed by the engineer "
        "{person} and opened by the mayor {person2} in {year}. Built from {material}, the bridge is {length} metres "
        "long and was repaired in {year2}.",
        {"designer": ("person", ("last",), ("Who designed the {name} Bridge?",
                                            "Which engineer designed the {name} Bridge?"),
                      ("The {name} Bridge was designed by whom?", "Name the engineer behind the {name} Bridge.")),
         "opener": ("person2", ("last",), ("Who opened the {name} Bridge?", "Which mayor opened the {name} Bridge?"),
                    ("The {name} Bridge was opened by whom?", "Name the mayor who opened the {name} Bridge.")),
         "year": ("year", (), ("When did the {name} Bridge open?", "In what year was the {name} Bridge opened?"),
                  ("The {name} Bridge opened in which year?", "What year did the {name} Bridge first open?")),
         "river": ("river_full", ("bare",), ("Which river does the {name} Bridge cross?",
                                             "What river is crossed by the {name} Bridge?"),
                   ("The {name} Bridge spans which river?", "Over what river does the {name} Bridge go?")),
         "material": ("material", (), ("What is the {name} Bridge built from?",
                                       "What material was used for the {name} Bridge?"),
                      ("The {name} Bridge is made of what?", "Which material makes up the {name} Bridge?")),
         "length": ("length_full", ("bare",), ("How long is the {name} Bridge?",
                                               "What is the length of the {name} Bridge?"),
                    ("How many metres long is the {name} Bridge?", "The {name} Bridge has what length?"))}),
    "festival": (
        "Every {month}, the village of {town} holds the {name} Festival. It was started by {person} in {year}. "
        "Visitors come to taste {food}, and the main prize, a {prize}, goes to the best {craft}. Last year the prize "
        "was won by {person2}.",
        {"month": ("month", (), ("In which month is the {name} Festival held?", "When is the {name} Festival held?"),
                   ("The {name} Festival takes place in what month?",
                    "What month does the {name} Festival happen in?")),
         "village": ("town", (), ("Which village holds the {name} Festival?", "Where is the {name} Festival held?"),
                     ("The {name} Festival is held in what village?",
                      "In what village does the {name} Festival take place?")),
         "founder": ("person", ("last",), ("Who started the {name} Festival?", "Who founded the {name} Festival?"),
                     ("The {name} Festival was started by whom?", "Name the founder of the {name} Festival.")),
         "year": ("year", (), ("When was the {name} Festival started?", "In what year did the {name} Festival begin?"),
                  ("The {name} Festival was first held in which year?", "What year was the {name} Festival founded?")),
         "food": ("food", (), ("What do visitors taste at the {name} Festival?",
                               "What food is the {name} Festival known for?"),
                  ("Visitors to the {name} Festival come to eat what?",
                   "Which food can you taste at the {name} Festival?")),
         "winner": ("person2", ("last",), ("Who won the prize at the {name} Festival last year?",
                                           "Who was last year's winner at the {name} Festival?"),
                    ("Last year's prize at the {name} Festival was won by whom?",
                     "Name the most recent prize winner of the {name} Festival."))}),
    "animal": (
        "The {name} is a small {animal} that lives only in the {region} Hills. It feeds mainly on {diet}, and its "
        "{bodypart} is bright {colour}. A {name} can live for {n} years, and a female lays about {n2} eggs at a time.",
        {"kind": ("animal", (), ("What kind of animal is the {name}?", "What sort of animal is a {name}?"),
                  ("The {name} is what type of animal?", "A {name} is which kind of creature?")),
         "home": ("region_full", ("bare",), ("Where does the {name} live?", "In which hills does the {name} live?"),
                  ("The {name} is found in which hills?", "Where can the {name} be found?")),
         "diet": ("diet", (), ("What does the {name} feed on?", "What does the {name} mainly eat?"),
                  ("The {name} lives mostly on what food?", "What is the main food of the {name}?")),
         "colour": ("colour", ("bright",), ("What colour is the {name}'s {bodypart}?",
                                            "Which colour is the {bodypart} of the {name}?"),
                    ("The {bodypart} of the {name} has what colour?", "The {name} has a {bodypart} of which colour?")),
         "lifespan": ("n_full", ("bare",), ("How long can a {name} live?", "What is the lifespan of a {name}?"),
                      ("For how many years can a {name} live?", "A {name} lives for how long?")),
         "eggs": ("n2", (), ("How many eggs does a female {name} lay?", "How many eggs does the {name} lay at a time?"),
                  ("A female {name} lays how many eggs?", "What number of eggs does a {name} lay at once?"))}),
    "works": (
        "In {year}, {person} founded the {name} Works in the city of {town}. The company first made {product}, but it "
        "became famous for its {product2}. In {year2} it was sold to {person2}, and today it employs about {n} people.",
        {"founder": ("person", ("last",), ("Who founded the {name} Works?", "Who started the {name} Works?"),
                     ("The {name} Works was founded by whom?", "Name the founder of the {name} Works.")),
         "year": ("year", (), ("When was the {name} Works founded?", "In what year was the {name} Works founded?"),
                  ("The {name} Works was set up in which year?", "What year did the {name} Works begin?")),
         "city": ("town", (), ("In which city is the {name} Works?", "Where was the {name} Works founded?"),
                  ("The {name} Works is located in what city?", "What city is home to the {name} Works?")),
         "first product": ("product", (), ("What did the {name} Works make first?",
                                           "What was the first product of the {name} Works?"),
                           ("The {name} Works started out making what?",
                            "What did the {name} Works originally produce?")),
         "famous product": ("product2", (), ("What is the {name} Works famous for?",
                                             "What made the {name} Works famous?"),
                            ("The {name} Works became known for what?",
                             "For which product is the {name} Works best known?")),
         "buyer": ("person2", ("last",), ("Who bought the {name} Works?", "To whom was the {name} Works sold?"),
                   ("The {name} Works was sold to whom?", "Name the person who bought the {name} Works."))}),
}


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        if name not in used and 4 <= len(name) <= 10:
            used.add(name)
            return name


def _slots(rng: random.Random, used: set[str]) -> dict[str, str]:
    people = rng.sample([(first, last) for first in _FIRST for last in _LAST], 2)
    years = rng.sample(range(1702, 1990), 2)
    numbers = rng.sample(range(3, 60), 2)
    slots = {"name": _name(rng, used), "town": _name(rng, used), "river": _name(rng, used), "region": _name(rng, used),
             "person": " ".join(people[0]), "person2": " ".join(people[1]),
             "year": str(min(years)), "year2": str(max(years)), "length": str(rng.randrange(40, 900)),
             "n": str(numbers[0]), "n2": str(numbers[1])}
    slots.update({k: rng.choice(v) for k, v in _VALUES.items()})
    if slots["product"] == slots["product2"]:
        slots["product2"] = _VALUES["product2"][0]
    return slots


def _answers(slot: str, extra: tuple[str, ...], s: dict[str, str], kind: str) -> tuple[str, ...]:
    """The span in the passage first, then the other answers SQuAD-style annotators might give."""
    if slot == "river_full":
        return (f"{s['river']} River", s["river"])
    if slot == "region_full":
        return (f"{s['region']} Hills", s["region"])
    if slot == "length_full":
        return (f"{s['length']} metres", s["length"])
    if slot == "n_full":
        return (f"{s['n']} years", s["n"])
    answers = [s[slot]]
    if "last" in extra:
        answers.append(s[slot].split()[-1])
    if "bright" in extra:
        answers.append(f"bright {s[slot]}")
    return tuple(answers)


def make_qa_data(passages_per_kind: int = 20, test_passages_per_kind: int = 5, *, seed: int = 0) -> QAData:
    """Question/passage/answer triples for four kinds of made-up passage (bridge, festival, animal, works).

    Every passage states six facts; each fact has two training phrasings and two held-out ones.
    The last ``test_passages_per_kind`` passages of each kind are held out: their questions are
    in ``test_known_phrasing`` (the training phrasings) and ``test_new_phrasing`` (phrasings never
    trained on). Every answer occurs exactly once in its passage, so its span is unambiguous.
    """
    integer("passages_per_kind", passages_per_kind, min=1)
    integer("test_passages_per_kind", test_passages_per_kind, min=1)
    if test_passages_per_kind >= passages_per_kind:
        raise ValueError(f"test_passages_per_kind must be smaller than passages_per_kind ({passages_per_kind}); "
                         f"got {test_passages_per_kind}")
    rng, used = random.Random(seed), set()
    data = QAData(passages={})
    for kind, (template, facts) in _KINDS.items():
        for i in range(passages_per_kind):
            while True:   # draw until every answer occurs exactly once in the passage
                s = _slots(rng, used)
                context = template.format(**s)
                answers = {fact: _answers(slot, extra, s, kind) for fact, (slot, extra, _, _) in facts.items()}
                if all(context.count(a[0]) == 1 for a in answers.values()):
                    break
            pid = f"{kind}-{i}"
            data.passages[pid] = context
            held_out = i >= passages_per_kind - test_passages_per_kind
            if held_out:
                data.test_passages.append(pid)
            for fact, (_, _, known, new) in facts.items():
                a = answers[fact]
                start = context.index(a[0])
                known_ex = [QAExample(q.format(**s), context, a, start, pid, fact) for q in known]
                if not held_out:
                    data.train.extend(known_ex)
                else:
                    data.test_known_phrasing.extend(known_ex)
                    data.test_new_phrasing.extend(QAExample(q.format(**s), context, a, start, pid, fact) for q in new)
    return data


# ---------------------------------------------------------------- the reader: encoder + span head

def encode_qa(questions: Sequence[str], contexts: Sequence[str], tokenizer=None, answer_starts=None, answers=None):
    """Tokenize (question, passage) pairs as ``[CLS] q [SEP] p [SEP]``; return ``(batch, offsets, in_context)``.

    ``batch`` holds ``input_ids``, ``token_type_ids``, ``attention_mask`` (B, T); ``offsets`` (B, T, 2)
    are each token's character span in its passage; ``in_context`` (B, T) is True on passage
    tokens. With ``answer_starts`` and ``answers`` (the answer texts) it also adds
    ``start_positions`` and ``end_positions`` (B,): the token indices of the answer's first and last token.
    """
    from .pretrained import MAX_POSITIONS, load_minilm

    if isinstance(questions, str) or isinstance(contexts, str) or len(questions) != len(contexts) or not questions:
        raise ValueError(f"questions and contexts must be non-empty lists of the same length; "
                         f"got {len(questions)} and {len(contexts)}")
    tokenizer = tokenizer or load_minilm()[0]
    enc = tokenizer(list(questions), list(contexts), padding=True, return_offsets_mapping=True, return_tensors="pt")
    if enc["input_ids"].shape[1] > MAX_POSITIONS:
        raise ValueError(f"contexts must fit the model's {MAX_POSITIONS} positions with their question; "
                         f"got {enc['input_ids'].shape[1]} tokens")
    in_context = torch.tensor([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(questions))])
    offsets = enc.pop("offset_mapping")
    batch = dict(enc)
    if answer_starts is not None:
        if answers is None or len(answers) != len(questions) or len(answer_starts) != len(questions):
            raise ValueError("answer_starts and answers must both be given, one per question")
        starts, ends = [], []
        for i, (a0, text) in enumerate(zip(answer_starts, answers)):
            a1 = a0 + len(text)                                              # character span [a0, a1)
            toks = torch.nonzero(in_context[i] & (offsets[i, :, 1] > a0) & (offsets[i, :, 0] < a1)).flatten()
            if len(toks) == 0:
                raise ValueError(f"answers must lie inside their context; answer {i} ({text!r}) at {a0} does not")
            starts.append(int(toks[0]))
            ends.append(int(toks[-1]))
        batch["start_positions"], batch["end_positions"] = torch.tensor(starts), torch.tensor(ends)
    return batch, offsets, in_context


class SpanQA(nn.Module):
    """Encoder + a linear layer giving each token a start and an end logit: (B, T) ids -> two (B, T) tensors.

    The same architecture as ``transformers.BertForQuestionAnswering`` (its ``qa_outputs`` layer is our
    ``span``). ``encoder`` defaults to a private copy of MiniLM.
    """

    def __init__(self, encoder: nn.Module | None = None):
        super().__init__()
        if encoder is None:
            from .pretrained import load_minilm
            encoder = copy.deepcopy(load_minilm()[1])
        self.encoder = encoder
        self.span = nn.Linear(self.encoder.config.hidden_size, 2)

    def forward(self, input_ids, attention_mask, token_type_ids=None, **_) -> tuple[torch.Tensor, torch.Tensor]:
        token_ids("input_ids", input_ids, self.encoder.config.vocab_size, ndim=2)
        tensor("attention_mask", attention_mask, shape=tuple(input_ids.shape))
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state       # (B, T, C)
        start, end = self.span(hidden).unbind(-1)                                    # (B, T, 2) -> 2 × (B, T)
        return start, end


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """Mean of the two cross-entropies over positions (as ``BertForQuestionAnswering`` computes it)."""
    return (F.cross_entropy(start_logits, start_positions) + F.cross_entropy(end_logits, end_positions)) / 2


def best_spans(start_logits: torch.Tensor, end_logits: torch.Tensor, allowed: torch.Tensor,
               max_answer_len: int = 15) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best valid span per row: (B, T), (B, T), (B, T) bool -> start (B,), end (B,), score (B,).

    Valid: ``start <= end < start + max_answer_len`` and both tokens ``allowed`` (the passage).
    Its score is ``start_logits[start] + end_logits[end]``, the largest among valid pairs.
    """
    sizes = {}
    for name, t in (("start_logits", start_logits), ("end_logits", end_logits), ("allowed", allowed)):
        tensor(name, t, shape=("B", "T"), sizes=sizes)
    bool_mask("allowed", allowed)
    max_answer_len = integer("max_answer_len", max_answer_len, min=1)
    if not allowed.any(-1).all():
        raise ValueError("allowed must mark at least one token in every row")
    B, T = start_logits.shape
    pos = torch.arange(T)
    length = pos[None, :] - pos[:, None]                                          # (T, T): end − start
    valid = (length >= 0) & (length < max_answer_len)                             # (T, T)
    valid = valid[None] & allowed[:, :, None] & allowed[:, None, :]               # (B, T, T)
    scores = start_logits[:, :, None] + end_logits[:, None, :]                    # (B, T_start, T_end)
    flat = scores.masked_fill(~valid, float("-inf")).flatten(1)                   # (B, T·T)
    best, where = flat.max(-1)
    return where // T, where % T, best


@dataclass
class QAHistory:
    """Training loss after every step of :func:`train_qa`."""

    loss: list[float] = field(default_factory=list)


def train_qa(model: SpanQA, examples: Sequence[QAExample], *, steps: int = 100, batch_size: int = 16,
             lr: float = 1e-4, head_lr: float = 1e-3, train_word_embeddings: bool = False,
             seed: int = 0) -> QAHistory:
    """Fine-tune the encoder and the span head with AdamW on shuffled mini-batches of ``examples``.

    The word-embedding table (30,522 × 384, half of MiniLM's weights) stays frozen unless
    ``train_word_embeddings``: the passages use few words, and it saves a third of the step time.
    """
    if isinstance(examples, (str, QAExample)) or len(examples) == 0:
        raise ValueError(f"examples must be a non-empty list of QAExample; got {type(examples).__name__}")
    steps, batch_size = integer("steps", steps, min=1), integer("batch_size", batch_size, min=1)
    lr, head_lr = number("lr", lr, min=0, min_open=True), number("head_lr", head_lr, min=0, min_open=True)
    words = model.encoder.embeddings.word_embeddings.weight
    words.requires_grad_(train_word_embeddings)
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": lr},
                                   {"params": model.span.parameters(), "lr": head_lr}], weight_decay=0.01)
    generator, history, order = torch.Generator().manual_seed(seed), QAHistory(), []
    model.train()
    while len(history.loss) < steps:
        if len(order) < batch_size:
            order += torch.randperm(len(examples), generator=generator).tolist()
        chosen, order = [examples[i] for i in order[:batch_size]], order[batch_size:]
        batch, _, _ = encode_qa([e.question for e in chosen], [e.context for e in chosen],
                                answer_starts=[e.answer_start for e in chosen], answers=[e.answers[0] for e in chosen])
        start, end = model(**batch)
        loss = span_loss(start, end, batch["start_positions"], batch["end_positions"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.loss.append(loss.item())
    model.eval()
    return history


@torch.no_grad()
def predict_answers(model: SpanQA, questions: Sequence[str], contexts: Sequence[str], *, max_answer_len: int = 15,
                    batch_size: int = 32) -> list[tuple[str, float]]:
    """For each (question, passage): the best valid span as ``(text, score)``, text cut from the passage."""
    if isinstance(questions, str) or len(questions) != len(contexts) or len(questions) == 0:
        raise ValueError(f"questions and contexts must be non-empty lists of the same length; "
                         f"got {len(questions)} and {len(contexts)}")
    integer("max_answer_len", max_answer_len, min=1)
    batch_size = integer("batch_size", batch_size, min=1)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(questions), batch_size):
        qs, cs = list(questions[i:i + batch_size]), list(contexts[i:i + batch_size])
        batch, offsets, in_context = encode_qa(qs, cs)
        start_logits, end_logits = model(**batch)
        s, e, score = best_spans(start_logits, end_logits, in_context, max_answer_len)
        for j, c in enumerate(cs):
            out.append((c[int(offsets[j, s[j], 0]):int(offsets[j, e[j], 1])], float(score[j])))
    model.train(was_training)
    return out


def overlap_baseline(question: str, context: str) -> str:
    """A reader with no learning: the passage sentence sharing the most (normalised) words with the question."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", context.strip()) if s]
    if not sentences:
        raise ValueError("context must contain at least one sentence; got an empty string")
    q = set(normalize_answer(question).split())
    return max(sentences, key=lambda s: len(q & set(normalize_answer(s).split())))


def retrieve_and_read(questions: Sequence[str], index, passages: Mapping[str, str], model: SpanQA, *, k: int = 1,
                      max_answer_len: int = 15) -> list[tuple[str, str]]:
    """Retrieve the ``k`` closest passages of a :class:`lmcourse.retrieval.SemanticIndex`, read each, keep
    the span with the highest score: ``[(answer, passage name)]``, one per question."""
    hits = index.search_many(list(questions), k=k)                     # [[(name, cosine), ...] per question]
    pairs = [(q, name) for q, row in zip(questions, hits) for name, _ in row]
    read = predict_answers(model, [q for q, _ in pairs], [passages[n] for _, n in pairs], max_answer_len=max_answer_len)
    out = []
    for i in range(len(questions)):
        options = [(read[i * k + j], pairs[i * k + j][1]) for j in range(k)]
        (text, _), name = max(options, key=lambda o: o[0][1])
        out.append((text, name))
    return out
