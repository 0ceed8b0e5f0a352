"""Hostile and odd pages, made on the fly (nothing third-party): name -> (bytes, expected outcome).

An expected outcome is a dead-letter reason, or "article" for a page that must come out right.
"""

from __future__ import annotations

import gzip
import json
import random

ARTICLE_EN = (
    "<p>North Korea said on Tuesday it would reject any talks with Japan, a statement carried by "
    "state media said, in a sharp turn after weeks of signals about a possible summit.</p>"
    "<p>The foreign ministry said the abduction issue had been settled and that Tokyo's demands "
    "left no room for a meeting between the two countries' leaders this year.</p>"
    "<p>Japan's chief cabinet secretary told reporters the government would keep working for "
    "the return of every abductee and would not give up on dialogue.</p>"
)


def html(body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head>{head}<title>Talks rejected</title></head><body>"
            f"<article><h1>North Korea rejects talks with Japan</h1>{body}</article></body></html>")


def legacy(encoding: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return html(body, f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}">'
                ).encode(encoding)


JAPANESE = ["北朝鮮の外務省は火曜日、日本との対話に応じる考えはないとする談話を発表した。談話は国営メディアを通じて伝えられた。" * 2,
            "日本政府は拉致被害者全員の帰国を求める立場を改めて強調し、首脳会談の実現に向けた努力を続けるとした。" * 2,
            "専門家は、両国の関係改善には時間がかかるとの見方を示している。今後の動向が注目される。" * 2]
KOREAN = ["북한 외무성은 화요일 일본과의 대화에 응할 생각이 없다는 담화를 발표했다. 담화는 관영 매체를 통해 전해졌다." * 2,
          "일본 정부는 납치 피해자 전원의 귀국을 요구하는 입장을 다시 강조하고 정상회담 실현을 위한 노력을 계속하겠다고 밝혔다." * 2,
          "전문가들은 양국 관계 개선에는 시간이 걸릴 것이라는 전망을 내놓고 있다. 향후 동향이 주목된다." * 2]
WESTERN = ["Le ministère nord-coréen des affaires étrangères a déclaré mardi qu’il refusait tout "
           "dialogue avec le Japon, selon un communiqué diffusé par les médias d’État.",
           "Le gouvernement japonais a réaffirmé sa volonté d’obtenir le retour de toutes les "
           "personnes enlevées et de poursuivre les efforts en vue d’un sommet.",
           "Les experts estiment qu’une amélioration des relations prendra du temps, a précisé "
           "l’agence, citant des diplomates à Séoul et à Tokyo."]


def lying(paragraphs: list[str], charset: str) -> bytes:
    """A UTF-8 page that declares another charset."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return html(body, f'<meta charset="{charset}">').encode("utf-8")


def gzip_members(data: bytes, members: int) -> bytes:
    """``data`` gzipped as several members, as ``cat a.gz b.gz`` makes."""
    step = len(data) // members + 1
    return b"".join(gzip.compress(data[i:i + step]) for i in range(0, len(data), step))


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" if i > 1 else "&lol;"}' * 10 + '">'
        for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE html [" + "".join(entities) + "]>"
    return (f'<?xml version="1.0"?>{doctype}<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<body><p>&lol9;</p>{ARTICLE_EN}</body></html>").encode()


def hostile_pages(huge_bytes: int) -> dict[str, tuple[bytes, str]]:
    rng = random.Random(7)
    deep = "<div>" * 100_000 + "<p>deep</p>" + "</div>" * 100_000
    return {
        "empty.html": (b"", "empty"),
        "blank.txt": (b" \n\t\r\n   \n", "empty"),
        "random.html": (bytes(rng.randrange(256) for _ in range(20_000)), "binary"),
        "png-named.html": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(5000), "binary"),
        # Not UTF-8 after a UTF-8 byte-order mark: the BOM is trusted, the bytes are broken.
        "bad-after-bom.txt": (b"\xef\xbb\xbfNorth Korea \xc3\x28 talks \xff\xfe " * 400, "bad_encoding"),
        # Not UTF-8, nothing declared: charset_normalizer finds the charset.
        "undeclared-cp1252.html": (html("".join(f"<p>{p}</p>" for p in WESTERN)).encode("cp1252"),
                                   "article"),
        "undeclared-shift-jis.html": (html("".join(f"<p>{p}</p>" for p in JAPANESE)).encode("shift_jis"),
                                      "article"),
        "utf16-bom.html": (html(ARTICLE_EN).encode("utf-16"), "article"),
        "utf16-le-no-bom.html": (html(ARTICLE_EN).encode("utf-16-le"), "article"),
        "utf16-be-no-bom.html": (html(ARTICLE_EN).encode("utf-16-be"), "article"),
        "shift-jis.html": (legacy("Shift_JIS", JAPANESE), "article"),
        "euc-kr.html": (legacy("EUC-KR", KOREAN), "article"),
        "windows-1252.html": (legacy("windows-1252", WESTERN), "article"),
        "huge.html": (b"<html><body>" + b"<p>filler text</p>" * (huge_bytes // 18), "too_large"),
        "deep.html": (html(deep).encode(), "no_article"),
        "billion-laughs.xhtml": (billion_laughs(), "article"),
        "bomb.html.gz": (gzip.compress(b"<p>" + b"A" * 50_000_000 + b"</p>", 9), "too_large"),
        # A charset declaration that lies: valid UTF-8 wins; a codec that is no charset is ignored.
        "utf8-declares-latin1.html": (lying(JAPANESE, "iso-8859-1"), "article"),
        "utf8-declares-utf16.html": (lying(WESTERN, "utf-16"), "article"),
        "utf8-declares-rot13.html": (lying(KOREAN, "rot13"), "article"),
        "utf8-declares-base64.html": (lying(WESTERN, "base64"), "article"),
        "gzip-cut.html.gz": (gzip.compress(html(ARTICLE_EN).encode())[:200], "bad_gzip"),
        "gzip-members.html.gz": (gzip_members(html(ARTICLE_EN).encode(), 3), "article"),
        "no-article.html": (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no_article"),
        "feed.jsonl": (
            b"{not json at all\n"
            + json.dumps({"url": "https://x.test/1", "fetched_at": "2024-03-26T10:00:00Z"}).encode()
            + b"\n" + json.dumps({"url": "https://x.test/2", "html": html(ARTICLE_EN)}).encode()
            + b"\n",
            "bad_json|no_content|article",
        ),
    }


CONTENT_SNIPPETS = {
    "shift-jis.html": "拉致被害者",
    "euc-kr.html": "납치 피해자",
    "windows-1252.html": "personnes enlevées",
    "utf16-bom.html": "abduction issue",
    "utf8-declares-latin1.html": "拉致被害者",
    "undeclared-cp1252.html": "personnes enlevées",
    "undeclared-shift-jis.html": "拉致被害者",
    "utf8-declares-utf16.html": "personnes enlevées",
    "utf8-declares-rot13.html": "납치 피해자",
    "utf8-declares-base64.html": "personnes enlevées",
    "gzip-members.html.gz": "would not give up on dialogue",
}
