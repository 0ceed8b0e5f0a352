"""Decoding raw page bytes: charsets, BOMs, gzip, JSON lines, and what is refused."""

import codecs
import gzip
import json
import zlib

import pytest

from transforms.decode import decode_page, gunzip_bounded, page_id, sniff_kind
from transforms.records import KIND_HTML, KIND_TEXT, Page, StageError

HTML = "<!DOCTYPE html><html><head><title>T</title></head><body><p>Hello world</p></body></html>"


def page(body: bytes, **kw) -> Page:
    return Page(source="mem", body=body, size_bytes=len(body), **kw)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"   \n\t  \r\n", "empty"),
        (bytes(range(256)) * 20, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02\x03" * 500, "binary"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfa abc", "bad_encoding"),
    ],
)
def test_refused_pages_have_a_reason(body, reason):
    with pytest.raises(StageError) as caught:
        decode_page(page(body))
    assert caught.value.reason == reason


def test_too_large_is_refused_before_decoding():
    with pytest.raises(StageError) as caught:
        decode_page(Page("mem", b"<p>x</p>", size_bytes=10_000), max_bytes=1000)
    assert caught.value.reason == "too_large"


def test_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(StageError) as caught:
        gunzip_bounded(bomb, 100_000)
    assert caught.value.reason == "too_large"


def test_gzipped_page_is_read():
    doc = decode_page(page(gzip.compress(HTML.encode())))
    assert doc.kind == KIND_HTML and "Hello world" in doc.content


@pytest.mark.parametrize(
    "encoding, declare",
    [
        ("shift_jis", '<meta charset="Shift_JIS">'),
        ("euc-kr", '<meta http-equiv="Content-Type" content="text/html; charset=EUC-KR">'),
        ("windows-1252", '<meta charset="windows-1252">'),
    ],
)
def test_declared_legacy_encodings(encoding, declare):
    words = {
        "shift_jis": "北朝鮮が拉致問題で声明",
        "euc-kr": "북한이 일본과 대화",
        "windows-1252": "café – “quoted”",
    }
    html = f"<html><head>{declare}</head><body><p>{words[encoding]}</p></body></html>"
    doc = decode_page(page(html.encode(encoding)))
    assert words[encoding] in doc.content
    assert codecs.lookup(doc.encoding).name == codecs.lookup(encoding).name


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_unicode_with_and_without_bom(encoding):
    doc = decode_page(page(HTML.encode(encoding)))
    assert "Hello world" in doc.content and doc.kind == KIND_HTML


def test_a_few_broken_bytes_in_utf8_are_kept():
    text = ("North Korea said on Tuesday it would talk. " * 200).encode() + b"\xff"
    doc = decode_page(page(text))
    assert doc.kind == KIND_TEXT and doc.content.startswith("North Korea")


@pytest.mark.parametrize(
    "content, kind",
    [
        (HTML, KIND_HTML),
        ("<div><p>one</p><p>two</p><p>three</p></div>", KIND_HTML),
        ("Headline\n\nSEOUL (Reuters) - A story <in brackets>.", KIND_TEXT),
        ("  <!-- saved --> <html><body>x</body></html>", KIND_HTML),
    ],
)
def test_kind_is_recognised_by_content(content, kind):
    assert sniff_kind(content) == kind


def test_json_line_with_html():
    line = json.dumps(
        {"url": "https://x.test/a", "html": HTML, "fetched_at": "2024-03-29T01:00:00Z"}
    )
    doc = decode_page(page(line.encode(), declared_kind="jsonl"))
    assert doc.kind == KIND_HTML and doc.url == "https://x.test/a"
    assert doc.fetched_at == "2024-03-29T01:00:00+00:00"


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"{not json", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (json.dumps({"url": "u"}).encode(), "no_content"),
        (json.dumps({"url": "u", "html": "  "}).encode(), "no_content"),
    ],
)
def test_bad_json_lines(line, reason):
    with pytest.raises(StageError) as caught:
        decode_page(page(line, declared_kind="jsonl"))
    assert caught.value.reason == reason


def test_id_is_stable_and_depends_on_url_and_content():
    assert page_id("u", "x") == page_id("u", "x")
    assert page_id("u", "x") != page_id("v", "x") != page_id("u", "y")
    first = decode_page(page(HTML.encode()))
    again = decode_page(Page("elsewhere", HTML.encode(), 1))
    assert first.id == again.id


@pytest.mark.parametrize(
    "body",
    [
        HTML.encode(),  # strict UTF-8: the id is hashed from the page's own bytes
        HTML.replace("<p>", "<p>\r\n").encode(),
        HTML.replace("world", "wor\x00ld").encode(),
        "<p>Hello café – “quoted”</p>".encode(),
        "<p>Hello café</p>".encode("latin-1") + b" not utf-8",
        "<p>Hello café</p>".encode("utf-8-sig"),
        HTML.encode("utf-16"),
        ("North Korea said on Tuesday it would talk.\r\n" * 200).encode() + b"\xff",
    ],
)
def test_id_is_that_of_the_decoded_content(body):
    doc = decode_page(page(body, url="https://x.test/a"))
    assert "\r\n" not in doc.content and "\x00" not in doc.content
    assert doc.id == page_id("https://x.test/a", doc.content)


@pytest.mark.parametrize(("controls", "binary"), [(81, False), (82, True)])
def test_binary_is_a_share_of_control_bytes_in_the_head(controls, binary):
    # 2% of the 4,096 sniffed bytes is 81.92; tab, CR and LF never count.
    body = b"\x01" * controls + b"\t\r\n" * 100 + b"a" * 4096
    if binary:
        with pytest.raises(StageError) as caught:
            decode_page(page(body))
        assert caught.value.reason == "binary"
    else:
        assert decode_page(page(body)).encoding == "utf-8"


def test_text_check_counts_each_odd_character():
    # Private-use characters (Co) are not text: 2% of the head is tolerated, more is not.
    fine = "\ue000" * 80 + "a" * 4016
    assert decode_page(page(fine.encode())).content == fine
    with pytest.raises(StageError) as caught:
        decode_page(page(("\ue000" * 90 + "a" * 4006).encode()))
    assert caught.value.reason == "binary"


STORY = "<p>North Korea said on Tuesday it would reject any talks with Japan.</p>" * 3
LATIN = "<p>Le ministère a déclaré mardi qu’il refusait tout dialogue avec le Japon, a précisé l’agence à Séoul.</p>" * 4
JAPANESE = "<p>北朝鮮の外務省は火曜日、日本との対話に応じる考えはないとする談話を発表した。拉致被害者の帰国を求める。</p>" * 4
KOREAN = "<p>북한 외무성은 화요일 일본과의 대화에 응할 생각이 없다는 담화를 발표했다. 납치 피해자 전원의 귀국을 요구했다.</p>" * 4


def declared(body: str, charset: str) -> str:
    return f'<html><head><meta charset="{charset}"><title>t</title></head><body>{body}</body></html>'


@pytest.mark.parametrize("body", [LATIN, JAPANESE, KOREAN, STORY])
@pytest.mark.parametrize(
    "lie", ["iso-8859-1", "windows-1252", "utf-16", "utf-16le", "shift_jis", "euc-kr", "koi8-r"]
)
def test_valid_utf8_wins_over_a_lying_declaration(body, lie):
    doc = decode_page(page(declared(body, lie).encode("utf-8")))
    assert body in doc.content and doc.encoding == "utf-8"


@pytest.mark.parametrize("codec", ["rot13", "rot_13", "base64", "hex", "zlib", "uu", "idna"])
@pytest.mark.parametrize("body, real", [(LATIN, "utf-8"), (JAPANESE, "utf-8"), (LATIN, "cp1252")])
def test_a_declared_codec_that_is_not_a_charset_is_ignored(codec, body, real):
    doc = decode_page(page(declared(body, codec).encode(real)))
    assert body in doc.content


@pytest.mark.parametrize(
    "body, real, lie",
    [
        (LATIN, "cp1252", "shift_jis"),  # bytes invalid in the declared charset
        (JAPANESE, "shift_jis", "euc-kr"),
        (JAPANESE, "euc-jp", "big5"),
        (KOREAN, "euc-kr", "shift_jis"),
        (JAPANESE, "shift_jis", None),  # nothing declared, not UTF-8
        (KOREAN, "euc-kr", None),
    ],
)
def test_bytes_neither_utf8_nor_the_declared_charset_are_detected(body, real, lie):
    html = declared(body, lie) if lie else f"<html><body>{body}</body></html>"
    doc = decode_page(page(html.encode(real)))
    assert body in doc.content, (doc.encoding, doc.content[:200])


def test_how_a_page_was_decoded_is_counted(monkeypatch):
    import transforms.decode as decode

    seen = []
    monkeypatch.setattr(decode, "count", lambda name, value=1: seen.append(name))
    decode_page(page(declared(LATIN, "iso-8859-1").encode("utf-8")))
    decode_page(page(declared(LATIN, "windows-1252").encode("cp1252")))
    decode_page(page(f"<html><body>{KOREAN}</body></html>".encode("euc-kr")))
    assert seen == ["charset_utf8_over_declared", "charset_declared", "charset_detected"]


GZIPPED = gzip.compress(declared(STORY * 20, "utf-8").encode())


@pytest.mark.parametrize("cut", [11, 20, len(GZIPPED) // 3, len(GZIPPED) // 2, len(GZIPPED) - 8,
                                 len(GZIPPED) - 1])
def test_a_gzip_cut_short_is_bad_gzip_not_a_cut_page(cut):
    with pytest.raises(StageError) as caught:
        decode_page(page(GZIPPED[:cut]))
    assert caught.value.reason == "bad_gzip"


def test_a_corrupt_gzip_is_bad_gzip():
    broken = GZIPPED[:30] + bytes(b ^ 0x5A for b in GZIPPED[30:60]) + GZIPPED[60:]
    with pytest.raises(StageError) as caught:
        decode_page(page(broken))
    assert caught.value.reason == "bad_gzip"


@pytest.mark.parametrize("members", [2, 3, 5])
def test_every_member_of_a_multi_member_gzip_is_read(members):
    parts = [f"<p>Part {n} of the story about talks.</p>".encode() for n in range(members)]
    data = b"".join(gzip.compress(p) for p in parts)
    assert gunzip_bounded(data, 10_000) == b"".join(parts)
    assert gunzip_bounded(data + b"\0" * 512, 10_000) == b"".join(parts)  # tar-like padding


def test_the_limit_holds_across_gzip_members():
    data = gzip.compress(b"a" * 6000) + gzip.compress(b"b" * 6000)
    with pytest.raises(StageError) as caught:
        gunzip_bounded(data, 10_000)
    assert caught.value.reason == "too_large"
    assert zlib  # (zlib streams are not gzip members: only gzip's own framing is read)
