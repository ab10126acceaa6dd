"""A small labeled sentiment set, written for this course: English and Chinese sentences.

Each sentence is a short opinion (a film, a meal, a product, a trip, a service, a day) that
a reader would call clearly positive (label 1) or clearly negative (label 0). The
sentences were written by hand for lmcourse (no source text was copied), so the set may be
used and shared under the course's license. It is small on purpose: notebooks 12 and 13
train and evaluate classifiers on it in seconds, and it is big enough to see
overfitting, cross-validation spread and the difference between two classifiers.

:func:`load_sentiment` returns the whole set; :func:`train_test_split` splits it
deterministically (no randomness, no overlap): inside each (language, label) group, every
fourth sentence goes to the test set, so both sets have the same mix of languages and labels.
"""

from __future__ import annotations

from dataclasses import dataclass

POSITIVE_EN = """\
The film was a delight from the first scene to the last.
I loved every minute of this concert.
The soup was rich, warm and full of flavour.
Our guide was friendly and knew the city inside out.
This phone's battery easily lasts two days.
The hotel staff went out of their way to help us.
What a beautiful, moving story.
The new update made the app much faster.
I would happily eat at this restaurant every week.
The book kept me reading late into the night.
Delivery was quick and the package arrived in perfect condition.
The teacher explained everything clearly and patiently.
These headphones sound wonderful and feel comfortable.
The view from the top was absolutely breathtaking.
Best coffee I have had in years.
The actors were brilliant and the music was gorgeous.
The room was spotless and the bed was very comfortable.
Customer support solved my problem in five minutes.
The garden is peaceful and lovely in spring.
I am thrilled with how the photos turned out.
The bread was fresh and the butter was perfect.
A clever, funny and warm-hearted comedy.
The train was on time and the seats were roomy.
This keyboard is a joy to type on.
The museum was fascinating and well organised.
My new running shoes are light and very comfortable.
The dessert was heavenly.
The instructions were simple and the furniture was easy to build.
The festival had a fantastic atmosphere.
I felt welcome from the moment I walked in.
The game is beautifully designed and great fun to play.
The nurse was kind and reassuring.
This laptop is fast, quiet and well built.
The sunset over the lake was stunning.
Our waiter was attentive and cheerful.
The course was excellent and I learned a lot.
The noodles were perfectly cooked and very tasty.
The price was fair and the quality is superb.
The children had a wonderful time at the park.
The documentary was inspiring and beautifully filmed.
The cake was moist, sweet and simply delicious.
I highly recommend this little bookshop.
The flight was smooth and the crew were lovely.
The camera takes sharp, vivid pictures even at night.
The team did an outstanding job on the project.
What a pleasant surprise this place turned out to be.
The soundtrack is gorgeous and I play it every day.
The apartment was bright, clean and close to everything.
The new park has made our neighbourhood so much nicer.
The workshop was practical, lively and useful.
I am delighted with my new bicycle.
The pizza had a crisp crust and generous toppings.
The hike was challenging but rewarding, with amazing views.
Her performance was powerful and unforgettable.
Setting up the printer was quick and painless.
The market was colourful and full of friendly people.
This tea smells wonderful and tastes even better.
The doctor listened carefully and gave great advice.
We had a fantastic holiday and want to go back.
The software is reliable and a pleasure to use.
The library is quiet, bright and well stocked.
The salad was crunchy, fresh and nicely dressed.
The hosts were generous and made us feel at home.
The novel's ending was perfect.
The bus driver was polite and helpful.
Everything worked exactly as promised.
The concert hall has excellent sound.
The kids adore this board game.
The spa was relaxing and the staff were wonderful.
The watch looks elegant and keeps perfect time.
I enjoyed the lecture; it was engaging and clear.
The wedding was joyful and beautifully organised.
My plants are thriving thanks to this lamp.
The curry was fragrant and full of spice.
It was a lovely, sunny and happy day.
"""

NEGATIVE_EN = """\
The film was dull and far too long.
I regret buying tickets for this concert.
The soup was cold and tasted of nothing.
Our guide was rude and kept us waiting.
This phone's battery dies before lunch.
The hotel staff ignored our complaints.
What a boring, pointless story.
The new update made the app slow and buggy.
I will never eat at this restaurant again.
I gave up on the book after fifty tedious pages.
Delivery took three weeks and the box was crushed.
The teacher was confusing and impatient.
These headphones sound tinny and hurt my ears.
The view was blocked by ugly buildings.
Worst coffee I have had in years.
The acting was wooden and the music was grating.
The room was dirty and the bed was lumpy.
Customer support hung up on me twice.
The garden was overgrown and full of litter.
I am disappointed with how the photos turned out.
The bread was stale and the butter was rancid.
A lazy, unfunny and mean-spirited comedy.
The train was late and packed like a tin.
This keyboard is noisy and the keys stick.
The museum was crowded, stuffy and badly signed.
My new running shoes gave me painful blisters.
The dessert was sickly and soggy.
The instructions were useless and a part was missing.
The festival was overpriced and badly run.
I felt unwelcome from the moment I walked in.
The game is ugly, buggy and frustrating.
The nurse was careless and dismissive.
This laptop is slow, loud and flimsy.
It rained all week and the lake smelled awful.
Our waiter was slow and forgot our order.
The course was a waste of time and money.
The noodles were mushy and far too salty.
The price was absurd and the quality is poor.
The children were bored and miserable at the park.
The documentary was preachy and badly filmed.
The cake was dry, bland and stale.
I cannot recommend this shop to anyone.
The flight was delayed for hours and my bag was lost.
The camera takes blurry, washed-out pictures.
The team made a mess of the project.
What an unpleasant place this turned out to be.
The soundtrack is irritating and repetitive.
The apartment was dark, damp and far from everything.
The new car park has made our street ugly and noisy.
The workshop was disorganised and useless.
I am unhappy with my new bicycle; the brakes squeal.
The pizza was burnt and the toppings were stingy.
The hike was miserable, muddy and had no view at all.
Her performance was flat and forgettable.
Setting up the printer was a frustrating nightmare.
The market was dirty and the sellers were pushy.
This tea smells musty and tastes bitter.
The doctor rushed me and barely listened.
Our holiday was a disaster from start to finish.
The software crashes constantly and loses my work.
The library is noisy, cramped and poorly stocked.
The salad was wilted and drowned in oil.
The hosts were cold and made us feel unwelcome.
The novel's ending was a huge letdown.
The bus driver was rude and reckless.
Nothing worked as promised.
The concert hall has terrible sound.
The kids hate this board game.
The spa was dirty and the staff were unfriendly.
The watch looks cheap and runs slow.
I hated the lecture; it was tedious and unclear.
The wedding was chaotic and badly organised.
My plants died despite this useless lamp.
The curry was greasy and bland.
It was a grey, gloomy and miserable day.
"""

POSITIVE_ZH = """\
这部电影非常精彩，我看了两遍。
这家餐厅的菜又新鲜又好吃。
服务员态度热情，让人感觉很温暖。
这本书写得太好了，我一口气读完了。
新买的手机速度很快，电池也耐用。
酒店房间干净整洁，床也很舒服。
快递第二天就到了，包装完好无损。
老师讲得清楚又耐心，我学到了很多。
这里的风景美极了，值得一去。
这款耳机音质很棒，戴着也舒服。
客服很快就帮我解决了问题。
今天阳光明媚，心情特别好。
这次旅行非常愉快，我们还想再来。
咖啡香浓可口，店里的环境也很安静。
孩子们在公园里玩得很开心。
这个软件简单好用，运行稳定。
演员的表演很感人，音乐也很美。
价格公道，质量一流，强烈推荐。
医生很细心，给了我很好的建议。
蛋糕松软香甜，大家都很喜欢。
火车准点到达，座位宽敞舒适。
这家书店很温馨，我常常来这里看书。
新公园让我们的小区变得更美了。
这次培训很实用，收获很大。
面条筋道，汤头鲜美。
展览内容丰富，布置得也很用心。
朋友们都很热情，让我们宾至如归。
这双跑鞋又轻又舒服。
音乐会的音效非常出色。
这个游戏设计精美，非常好玩。
新电脑运行流畅，做工也很精致。
茶香四溢，回味甘甜。
导游知识丰富，讲解生动有趣。
婚礼办得热闹又温馨。
这家店的水果又甜又新鲜。
我对这次购物非常满意。
小说的结局非常完美。
司机很有礼貌，开车也很稳。
团队合作顺利，项目完成得很出色。
这台相机拍出来的照片清晰漂亮。
房东人很好，房子也干净明亮。
这门课让我对编程产生了浓厚的兴趣。
饺子皮薄馅大，味道好极了。
演出结束时，观众们热烈鼓掌。
这款台灯光线柔和，非常护眼。
周末在海边度过，真是太惬意了。
花园里的花开得很漂亮。
这次升级以后，应用快多了。
工作人员耐心细致，办事效率很高。
这是我今年看过最好的纪录片。
"""

NEGATIVE_ZH = """\
这部电影又长又无聊，我差点睡着了。
这家餐厅的菜又咸又冷，太难吃了。
服务员态度冷淡，让人很不舒服。
这本书写得很乱，我看不下去。
新买的手机经常死机，电池也不耐用。
酒店房间又脏又吵，床也很硬。
快递拖了三个星期，箱子还被压坏了。
老师讲得乱七八糟，一点也不耐心。
这里到处是垃圾，风景也很一般。
这款耳机音质很差，戴久了耳朵疼。
客服一直推脱，问题到现在也没解决。
今天又冷又下雨，心情糟透了。
这次旅行糟糕透顶，我们再也不来了。
咖啡又苦又淡，店里还特别吵。
孩子们在公园里又累又无聊。
这个软件老是崩溃，还会丢失文件。
演员的表演很生硬，音乐也很刺耳。
价格太贵，质量很差，千万别买。
医生很不耐烦，根本不听我说话。
蛋糕又干又硬，一点也不新鲜。
火车晚点两个小时，车厢又挤又闷。
这家店脏乱差，我不会再来了。
新停车场让我们的街道又吵又难看。
这次培训毫无用处，浪费时间。
面条煮烂了，汤也没有味道。
展览内容空洞，布置得很随便。
主人很冷淡，让我们觉得不受欢迎。
这双跑鞋磨脚，穿了一天就起泡了。
音乐会的音效很差，什么也听不清。
这个游戏画面粗糙，漏洞百出。
新电脑又慢又吵，做工也很粗糙。
茶叶有一股霉味，喝起来很苦。
导游很不专业，还总是催我们购物。
婚礼组织得一团糟。
这家店的水果又酸又烂。
我对这次购物非常失望。
小说的结局让人大失所望。
司机很没礼貌，开车也很猛。
团队配合很差，项目一塌糊涂。
这台相机拍出来的照片模糊不清。
房东态度恶劣，房子又暗又潮。
这门课枯燥乏味，我什么都没学到。
饺子皮厚馅少，味道很差。
演出还没结束，很多观众就走了。
这款台灯光线刺眼，用久了眼睛疼。
周末一直在堵车，真是太累了。
花园里的花全都枯死了。
这次升级以后，应用变得又慢又卡。
工作人员态度恶劣，办事效率很低。
这是我今年看过最差的纪录片。
"""

TEST_EVERY = 4  # in each (language, label) group, sentences 3, 7, 11, … go to the test set


@dataclass(frozen=True)
class Example:
    """One labeled sentence: ``label`` 1 = positive, 0 = negative; ``lang`` is "en" or "zh"."""

    text: str
    label: int
    lang: str


def _group(block: str, label: int, lang: str) -> list[Example]:
    return [Example(line.strip(), label, lang) for line in block.splitlines() if line.strip()]


def load_sentiment(lang: str | None = None) -> list[Example]:
    """Every sentence of the set, in a fixed order; ``lang="en"`` or ``"zh"`` keeps one language."""
    if lang not in (None, "en", "zh"):
        raise ValueError(f"lang must be None, 'en' or 'zh'; got {lang!r}")
    groups = [_group(POSITIVE_EN, 1, "en"), _group(NEGATIVE_EN, 0, "en"),
              _group(POSITIVE_ZH, 1, "zh"), _group(NEGATIVE_ZH, 0, "zh")]
    return [ex for group in groups for ex in group if lang in (None, ex.lang)]


def train_test_split(lang: str | None = None) -> tuple[list[Example], list[Example]]:
    """``(train, test)``: in each (language, label) group every fourth sentence is a test sentence.

    Deterministic and stratified: about 75 % / 25 %, the same languages and labels in both.
    """
    train, test, seen = [], [], {}
    for ex in load_sentiment(lang):
        key = (ex.lang, ex.label)
        seen[key] = seen.get(key, 0) + 1
        (test if seen[key] % TEST_EVERY == 0 else train).append(ex)
    return train, test


def texts_and_labels(examples: list[Example]) -> tuple[list[str], list[int]]:
    """Two parallel lists, sentences and labels, ready for a classifier."""
    return [ex.text for ex in examples], [ex.label for ex in examples]


def vader_lexicon(words_only: bool = True) -> dict[str, float]:
    """``{word: mean human rating}`` from the VADER lexicon (Hutto & Gilbert 2014, MIT license).

    Ten people rated each entry from −4 (extremely negative) to +4 (extremely positive); the
    file ships inside the ``vaderSentiment`` package. ``words_only`` drops emoticons and
    other entries that are not purely alphabetic (about 300 of 7,500).
    """
    from importlib.resources import files

    try:
        text = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError as err:  # pragma: no cover - declared dependency
        raise ImportError("the VADER lexicon needs the package vaderSentiment: pip install vaderSentiment") from err
    lexicon = {}
    for line in text.splitlines():
        word, mean, *_ = line.split("\t")
        if not words_only or word.isalpha():
            lexicon[word] = float(mean)
    return lexicon
