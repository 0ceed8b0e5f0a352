"""Synthetic news pages, made from a seed: distinct stories, no third-party text."""

from __future__ import annotations

import random

PLACES = ["Seoul", "Tokyo", "Pyongyang", "Beijing", "Washington", "Moscow", "Osaka", "Busan"]
ACTORS = ["the foreign ministry", "a senior official", "the defence minister", "state media",
          "the prime minister's office", "a government spokesperson", "analysts", "diplomats"]
VERBS = ["said", "announced", "warned", "confirmed", "denied", "reported", "argued", "noted"]
OBJECTS = ["new talks on trade", "a port reopening", "rice harvest figures", "a rail link",
           "a fishing agreement", "power shortages", "a border crossing", "a sports exchange",
           "a cultural festival", "bridge repairs", "tourism numbers", "a school programme"]
WORDS = ("market river council budget harbour winter transport school hospital farmers "
         "festival museum railway station forecast election bridge tunnel factory").split()


def sentence(rng: random.Random) -> str:
    filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
    return (f"In {rng.choice(PLACES)}, {rng.choice(ACTORS)} {rng.choice(VERBS)} that "
            f"{rng.choice(OBJECTS)} would affect the {filler} over the coming {rng.randint(2, 90)} days.")


def story(rng: random.Random, paragraphs: int = 6) -> tuple[str, list[str]]:
    title = f"{rng.choice(PLACES)} officials discuss {rng.choice(OBJECTS)} ({rng.randint(1, 10**6)})"
    return title, [" ".join(sentence(rng) for _ in range(3)) for _ in range(paragraphs)]


def html_page(title: str, paragraphs: list[str], day: int = 1) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="en"><head><title>{title}</title>'
            f'<meta property="article:published_time" content="2024-03-{day:02d}T09:00:00+09:00">'
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Contact us</footer></body></html>")


def write_corpus(folder, count: int, seed: int = 1) -> list[str]:
    """``count`` distinct HTML pages in ``folder``; returns their file names."""
    rng = random.Random(seed)
    names = []
    for n in range(count):
        title, paragraphs = story(rng)
        name = f"page{n:05d}.html"
        (folder / name).write_text(html_page(title, paragraphs, day=1 + n % 28), encoding="utf-8")
        names.append(name)
    return names
