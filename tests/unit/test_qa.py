"""Extractive QA: SQuAD's metrics on hand-checked cases, the generated data, span decoding,
the span head vs transformers."""

import pytest
import torch

from lmcourse.qa import (
    QAExample,
    SpanQA,
    best_spans,
    encode_qa,
    exact_match,
    make_qa_data,
    normalize_answer,
    overlap_baseline,
    predict_answers,
    retrieve_and_read,
    span_loss,
    squad_scores,
    token_f1,
    train_qa,
)

# ---- SQuAD's normalisation and scores, checked by hand against the official v1.1 script's rules

@pytest.mark.parametrize("text, expected", [
    ("The Eiffel-Tower!", "eiffeltower"),          # punctuation deleted (not replaced by a space), article dropped
    ("  an   Apple a day ", "apple day"),           # articles a/an as whole words, white space collapsed
    ("Theatre anthem", "theatre anthem"),          # "the"/"an" inside words stay
    ("A.D. 1887", "ad 1887"),
    ("", ""),
])
def test_normalize_answer_follows_squad(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_after_normalisation_and_max_over_golds():
    assert exact_match("the Eiffel Tower", ["Eiffel Tower"]) == 1.0
    assert exact_match("in 1887", ["1887"]) == 0.0
    assert exact_match("Krone", ["Ada Krone", "Krone"]) == 1.0


@pytest.mark.parametrize("prediction, golds, expected", [
    ("in 1887", ["1887"], 2 * 0.5 * 1.0 / 1.5),                 # precision 1/2, recall 1 -> F1 2/3
    ("grey granite stone", ["grey granite"], 0.8),                # precision 2/3, recall 1
    ("Ada Krone", ["Krone", "Ada Krone"], 1.0),                   # the best gold answer counts
    ("the the cat cat", ["cat"], 2 * 0.5 * 1.0 / 1.5),           # shared tokens counted with multiplicity
    ("420 metres", ["about 420 metres long"], 2 * 1.0 * 0.5 / 1.5),
    ("Tuesday", ["Monday"], 0.0),
    ("the", ["a"], 0.0),                                          # both normalise to nothing: v1.1 gives 0
])
def test_token_f1_hand_checked(prediction, golds, expected):
    assert token_f1(prediction, golds) == pytest.approx(expected)


def test_squad_scores_are_percent_means():
    scores = squad_scores(["1887", "in 1887", "Vale"], [["1887"], ["1887"], ["Ada Krone"]])
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: exact_match(3, ["a"]), TypeError, "prediction must be a str"),
    (lambda: token_f1("a", "a"), ValueError, "gold_answers must be a non-empty list"),
    (lambda: token_f1("a", []), ValueError, "gold_answers must be a non-empty list"),
    (lambda: squad_scores(["a"], [["a"], ["b"]]), ValueError, "same length"),
    (lambda: normalize_answer(None), TypeError, "text must be a str"),
])
def test_metric_inputs_are_checked(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# ---- the generated data

@pytest.fixture(scope="module")
def data():
    return make_qa_data(passages_per_kind=6, test_passages_per_kind=2, seed=3)


def test_every_answer_is_its_span_and_occurs_once(data):
    for ex in data.train + data.test_known_phrasing + data.test_new_phrasing:
        assert ex.context[ex.answer_start:ex.answer_start + len(ex.answers[0])] == ex.answers[0]
        assert ex.context.count(ex.answers[0]) == 1
        assert data.passages[ex.passage] == ex.context


def test_held_out_passages_and_phrasings_are_unseen_in_training(data):
    train_passages = {ex.passage for ex in data.train}
    assert not train_passages & set(data.test_passages)
    assert {ex.passage for ex in data.test_new_phrasing} == set(data.test_passages)
    assert not {e.question for e in data.test_new_phrasing} & {e.question for e in data.test_known_phrasing}
    assert len(data.train) == 4 * 4 * 6 * 2 and len(data.test_new_phrasing) == 4 * 2 * 6 * 2


def test_make_qa_data_is_deterministic_and_checks_its_sizes():
    assert make_qa_data(3, 1, seed=1).passages == make_qa_data(3, 1, seed=1).passages
    with pytest.raises(ValueError, match="test_passages_per_kind must be smaller"):
        make_qa_data(3, 3)
    with pytest.raises(ValueError, match="passages_per_kind must be an int >= 1; got 0"):
        make_qa_data(0, 1)


def test_encode_qa_finds_the_answer_tokens(data):
    from lmcourse.pretrained import load_minilm

    exs = data.train[:8]
    batch, offsets, in_context = encode_qa([e.question for e in exs], [e.context for e in exs],
                                           answer_starts=[e.answer_start for e in exs],
                                           answers=[e.answers[0] for e in exs])
    tokenizer = load_minilm()[0]
    for i, e in enumerate(exs):
        s, t = int(batch["start_positions"][i]), int(batch["end_positions"][i])
        assert in_context[i, s] and in_context[i, t]
        assert e.context[int(offsets[i, s, 0]):int(offsets[i, t, 1])] == e.answers[0]
        assert tokenizer.decode(batch["input_ids"][i, s:t + 1]) == e.answers[0].lower()
    assert not in_context[:, 0].any()                       # [CLS] and the question are not passage tokens


def test_encode_qa_rejects_an_answer_outside_the_context():
    with pytest.raises(ValueError, match="answers must lie inside their context"):
        encode_qa(["q?"], ["short passage"], answer_starts=[40], answers=["far away"])


# ---- decoding the best valid span

def test_best_spans_never_returns_end_before_start_and_respects_the_limits():
    start = torch.tensor([[0.0, 0.0, 1.0, 0.0, 4.0, 0.0]])     # best start alone: position 4
    end = torch.tensor([[0.0, 0.0, 5.0, 0.0, 0.0, 0.0]])       # best end alone: position 2 (before 4)
    allowed = torch.tensor([[False, True, True, True, True, True]])
    s, e, score = best_spans(start, end, allowed, max_answer_len=15)
    assert (int(s), int(e)) == (2, 2) and float(score) == 6.0          # 1 + 5 beats 4 + 0
    s, e, _ = best_spans(start, end, allowed, max_answer_len=1)
    assert int(s) == int(e)
    no_two = allowed.clone()
    no_two[0, 2] = False
    s, e, score = best_spans(start, end, no_two)
    assert int(s) == 4 and int(e) in (4, 5) and float(score) == 4.0


def test_best_spans_matches_a_brute_force_search():
    g = torch.Generator().manual_seed(0)
    start, end = torch.randn(5, 12, generator=g), torch.randn(5, 12, generator=g)
    allowed = torch.rand(5, 12, generator=g) > 0.3
    allowed[:, 5] = True
    s, e, score = best_spans(start, end, allowed, max_answer_len=4)
    for b in range(5):
        best = max((start[b, i] + end[b, j], i, j) for i in range(12) for j in range(i, min(12, i + 4))
                   if allowed[b, i] and allowed[b, j])
        assert float(score[b]) == pytest.approx(float(best[0]))
        assert float(start[b, s[b]] + end[b, e[b]]) == pytest.approx(float(best[0]))
        assert s[b] <= e[b] < s[b] + 4


def test_best_spans_checks_its_inputs():
    with pytest.raises(ValueError, match=r"start_logits must be a 2-d tensor \(B, T\); got shape \(3,\)"):
        best_spans(torch.zeros(3), torch.zeros(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"end_logits must be of shape \(B, T\) with B=1, T=3; got shape \(1, 4\)"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 4), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"allowed must be a bool tensor"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="max_answer_len must be an int >= 1; got 0"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 3, dtype=torch.bool), max_answer_len=0)
    with pytest.raises(ValueError, match="allowed must mark at least one token"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool))


# ---- the span head is transformers' BertForQuestionAnswering

def test_span_head_and_loss_equal_bert_for_question_answering(data):
    from transformers import BertForQuestionAnswering

    torch.manual_seed(0)
    ours = SpanQA().eval()
    theirs = BertForQuestionAnswering(ours.encoder.config).eval()
    theirs.bert.load_state_dict(ours.encoder.state_dict())
    theirs.qa_outputs.load_state_dict(ours.span.state_dict())
    exs = data.train[:4]
    batch, _, _ = encode_qa([e.question for e in exs], [e.context for e in exs],
                            answer_starts=[e.answer_start for e in exs], answers=[e.answers[0] for e in exs])
    with torch.no_grad():
        start, end = ours(**batch)
        ref = theirs(**batch)
    assert torch.allclose(start, ref.start_logits, atol=1e-5) and torch.allclose(end, ref.end_logits, atol=1e-5)
    loss = span_loss(start, end, batch["start_positions"], batch["end_positions"])
    assert torch.allclose(loss, ref.loss, atol=1e-5)


def test_training_lowers_the_loss_keeps_word_embeddings_and_the_cache(data):
    from lmcourse.pretrained import load_minilm

    model = SpanQA()
    words = model.encoder.embeddings.word_embeddings.weight.clone()
    layer = model.encoder.encoder.layer[0].attention.self.query.weight.clone()
    cached = load_minilm()[1].encoder.layer[0].attention.self.query.weight.clone()
    few = data.train[:8]
    history = train_qa(model, few, steps=6, batch_size=8, lr=1e-4, head_lr=3e-3)
    assert len(history.loss) == 6 and history.loss[-1] < history.loss[0]
    assert torch.equal(words, model.encoder.embeddings.word_embeddings.weight)
    assert not torch.equal(layer, model.encoder.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(cached, load_minilm()[1].encoder.layer[0].attention.self.query.weight)
    answers = predict_answers(model, [e.question for e in few], [e.context for e in few], max_answer_len=5)
    assert len(answers) == 8 and not model.training
    for (text, _), e in zip(answers, few):
        assert text and text in e.context


def test_train_qa_checks_its_inputs():
    with pytest.raises(ValueError, match="examples must be a non-empty list"):
        train_qa(None, [])
    ex = QAExample("q?", "a passage.", ("passage",), 2, "p", "f")
    with pytest.raises(ValueError, match="steps must be an int >= 1; got 0"):
        train_qa(SpanQA(encoder=_tiny_encoder()), [ex], steps=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0; got nan"):
        train_qa(SpanQA(encoder=_tiny_encoder()), [ex], lr=float("nan"))


def test_span_qa_refuses_ids_outside_the_encoders_vocabulary():
    model = SpanQA(encoder=_tiny_encoder())
    vocab = model.encoder.config.vocab_size
    with pytest.raises(ValueError, match=rf"input_ids must be token ids in \[0, {vocab}\) \(the vocabulary size\)"):
        model(torch.tensor([[1, vocab]]), torch.ones(1, 2))
    with pytest.raises(ValueError, match="input_ids must be an integer tensor"):
        model(torch.ones(1, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"attention_mask must be of shape \(1, 2\); got shape \(1, 3\)"):
        model(torch.ones(1, 2, dtype=torch.long), torch.ones(1, 3))


def _tiny_encoder():
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64), add_pooling_layer=False)


# ---- the baseline and the two-stage pipeline

def test_overlap_baseline_returns_the_sentence_sharing_most_words():
    context = "The bridge is long. It was designed by Ada Krone in 1887. The river is wide."
    assert overlap_baseline("Who designed it?", context) == "It was designed by Ada Krone in 1887."
    with pytest.raises(ValueError, match="context must contain at least one sentence"):
        overlap_baseline("q", "  ")


def test_retrieve_and_read_reads_the_retrieved_passages(data):
    from lmcourse.retrieval import SemanticIndex

    passages = {"a": "The Oskar Bridge was designed by Ada Krone.", "b": "Every May the village of Brill holds a fair."}
    index = SemanticIndex(passages)
    model = SpanQA().eval()
    out = retrieve_and_read(["Which village holds a fair in May?"], index, passages, model, k=1)
    assert out[0][1] == "b" and out[0][0] in passages["b"]
    out2 = retrieve_and_read(["Which village holds a fair in May?"], index, passages, model, k=2)
    assert out2[0][1] in passages and out2[0][0] in passages[out2[0][1]]
