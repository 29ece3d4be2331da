"""The study's report: Markdown with the points, the fit, the leap, the gap and MTI, and an SVG figure
(drawn here: no plotting library is needed to read it, and it renders on GitHub and the Hub)."""

from __future__ import annotations

import math
from html import escape

from labkit.evaluate.transfer import FORMULA

W, H, PAD = 560, 340, 50
COLORS = {"held": "#4C72B0", "en": "#DD8452", "trained": "#55A868"}


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _ci(ci, digits: int = 2) -> str:
    return "[—]" if not ci or None in ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def world_line(state: dict) -> str:
    """Which world the study ran in, in words."""
    world = state.get("world") or {"kind": "natural"}
    held = ", ".join((state.get("config") or {}).get("held_out") or [])
    if world.get("kind") == "cipher":
        return (
            f"the cipher world (held-out {held}: re-spellings of English that keep a share s = {world['overlap']:g} "
            "of its words)"
        )
    return f"the natural-language world (held-out {held})"


def finding(state: dict) -> str:
    """One sentence: what the study found, with numbers and 95 % intervals; says so where there is no effect."""
    pts = sorted(state.get("points") or [], key=lambda p: p["n_languages"])
    where = "In " + world_line(state)
    if not pts:
        return f"{where}, no point has finished yet."
    fit = state.get("fit") or {}
    first, last = pts[0], pts[-1]
    acc = lambda p: f"{p['held_out']:.2f} {_ci(p.get('held_out_ci'))}"  # noqa: E731
    parts = []
    ch = fit.get("change")
    if ch and ch.get("ci"):
        span = f"from {acc(first)} with {first['n_languages']} training language{'s' * (first['n_languages'] > 1)} "
        span += f"to {acc(last)} with {last['n_languages']} (difference {ch['value']:+.2f} {_ci(ch['ci'])})"
        if ch.get("nonzero"):
            parts.append(f"{where}, adding parallel languages {'raised' if ch['value'] > 0 else 'lowered'} "
                         f"held-out accuracy {span}")  # fmt: skip
        else:
            parts.append(f"{where}, adding parallel languages did not change held-out accuracy distinguishably "
                         f"from zero: {span}")  # fmt: skip
    elif last is first:
        parts.append(f"{where}, held-out accuracy was {acc(first)} with {first['n_languages']} training language(s)"
                     " (one point so far)")  # fmt: skip
    else:
        parts.append(f"{where}, held-out accuracy was {acc(first)} with {first['n_languages']} training language(s)"
                     f" and {acc(last)} with {last['n_languages']}")  # fmt: skip
    if first.get("held_out_nll_ci") and last.get("held_out_nll_ci") and last is not first:
        parts.append(
            f"held-out answer NLL went from {first['held_out_nll']:.2f} {_ci(first['held_out_nll_ci'])} to "
            f"{last['held_out_nll']:.2f} {_ci(last['held_out_nll_ci'])} "
            f"(trained NLL {_fmt(first.get('trained_nll'), 2)} and {_fmt(last.get('trained_nll'), 2)})"
        )
    leap, gap = fit.get("leap") or {}, fit.get("gap") or {}
    if leap.get("ci"):
        parts.append(
            f"the First-Parallel Leap is {leap['value']:+.2f} {_ci(leap['ci'])}"
            + ("" if leap.get("nonzero") else ", not distinguishable from zero")
        )
    if gap.get("ci") and None not in gap["ci"]:
        parts.append(
            f"the Monolingual Generalization Gap is {gap['value']:+.2f} {_ci(gap['ci'])}"
            + ("" if gap.get("nonzero") else ", not distinguishable from zero")
        )
    b, b_ci = (fit.get("params") or {}).get("b"), (fit.get("ci") or {}).get("b")
    if b is not None and fit.get("form") in ("power", "loglinear"):
        what = "power-law exponent" if fit["form"] == "power" else "log-linear slope"
        parts.append(f"the {what} is b = {b:.2f} {_ci(b_ci)}")
    return "; ".join(parts) + "."


def fit_curve(fit: dict, xs: list[float]) -> list[float] | None:
    p = fit.get("params") or {}
    if fit.get("form") == "power":
        return [p["a"] * x ** p["b"] for x in xs]
    if fit.get("form") == "loglinear":
        return [p["a"] + p["b"] * math.log(x) for x in xs]
    if fit.get("form") == "saturating":
        return [p["c"] - p["a"] * x ** (-p["b"]) for x in xs]
    return None


def figure_svg(state: dict) -> str:
    """Accuracy vs number of training languages: held-out mean (fitted, with its band), English, trained mean."""
    pts = sorted(state.get("points") or [], key=lambda p: p["n_languages"])
    fit = state.get("fit") or {}
    x_max = max([p["n_languages"] for p in pts] + [2])
    sx = lambda x: PAD + (x - 1) / max(x_max - 1, 1) * (W - 2 * PAD)
    sy = lambda y: H - PAD - max(0.0, min(1.0, y)) * (H - 2 * PAD)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    for t in range(0, 11, 2):  # axes and grid
        y = sy(t / 10)
        out.append(
            f'<line x1="{PAD}" y1="{y:.1f}" x2="{W - PAD}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{PAD - 8}" y="{y + 4:.1f}" text-anchor="end">{t / 10:.1f}</text>'
        )
    for n in range(1, x_max + 1):
        out.append(f'<text x="{sx(n):.1f}" y="{H - PAD + 18}" text-anchor="middle">{n}</text>')
    out.append(
        f'<text x="{W / 2}" y="{H - 10}" text-anchor="middle">number of training languages (1 = English only)</text>'
        f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">accuracy</text>'
    )
    preds = fit.get("predictions") or []
    if len(preds) >= 2:  # the fit's bootstrap band
        upper = " ".join(f"{sx(p['x']):.1f},{sy(p['hi']):.1f}" for p in preds)
        lower = " ".join(f"{sx(p['x']):.1f},{sy(p['lo']):.1f}" for p in reversed(preds))
        out.append(f'<polygon points="{upper} {lower}" fill="{COLORS["held"]}" fill-opacity="0.15"/>')
    xs = [1 + i * (x_max - 1) / 60 for i in range(61)]
    ys = fit_curve(fit, xs)
    if ys:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys) if math.isfinite(y))
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{COLORS["held"]}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    series = [
        ("held", "held-out mean", lambda p: p.get("held_out")),
        ("en", "English", lambda p: p["accuracy"].get("en")),
        (
            "trained",
            "trained non-English mean",
            lambda p: _mean([p["accuracy"].get(l) for l in p.get("trained", []) if l != "en"]),
        ),
    ]
    for p in pts:  # the held-out points' 95 % intervals over seeds and problems
        ci = p.get("held_out_ci")
        if ci and None not in ci:
            out.append(
                f'<line x1="{sx(p["n_languages"]):.1f}" y1="{sy(ci[0]):.1f}" x2="{sx(p["n_languages"]):.1f}" '
                f'y2="{sy(ci[1]):.1f}" stroke="{COLORS["held"]}" stroke-width="2"/>'
            )
    for i, (key, label, get) in enumerate(series):
        xy = [(sx(p["n_languages"]), sy(get(p))) for p in pts if get(p) is not None]
        if len(xy) > 1:
            out.append(
                f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in xy)}" fill="none" '
                f'stroke="{COLORS[key]}" stroke-opacity="0.5"/>'
            )
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{COLORS[key]}"/>' for a, b in xy]
        out.append(
            f'<circle cx="{PAD + 10}" cy="{PAD - 30 + 14 * i}" r="4" fill="{COLORS[key]}"/>'
            f'<text x="{PAD + 20}" y="{PAD - 26 + 14 * i}">{escape(label)}</text>'
        )
    if ys:
        out.append(
            f'<text x="{W - PAD}" y="{PAD - 26}" text-anchor="end">fit ({escape(fit.get("formula", ""))}, x ≥ 2)</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _zero(d) -> str:
    if not d or not d.get("ci") or None in d["ci"]:
        return "no interval"
    return "distinguishable from zero" if d.get("nonzero") else "not distinguishable from zero"


def _mean(values):
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def markdown(state: dict, figure: str) -> str:
    cfg, pts = state["config"], sorted(state.get("points") or [], key=lambda p: p["k"])
    fit, before = state.get("fit") or {}, state.get("before") or {}
    langs = ["en", *[l for l in cfg["languages"] if any(l in p["accuracy"] for p in pts)], *cfg["held_out"]]
    world = state.get("world") or {"kind": "natural"}
    lines = [
        f"# Parallel scaling: {state['id']}",
        "",
        f"**{state.get('finding') or finding(state)}**",
        "",
        "> **A synthetic world.** Grade-school arithmetic problems generated by `labkit synth mgsm` and a from-scratch "
        f"model (`{cfg['model']}`) that knows nothing else. The pipeline — training, evaluation, fit — is the one "
        "a GPU user "
        "runs on real models and MGSM; the numbers describe this toy world, not natural languages.",
        "",
        f"Budget `{cfg['budget']}`: {state['budget']['n_train']} training problems per language, "
        f"{state['budget']['n_test']} test problems per language, {state['budget']['max_steps']} SFT steps per run "
        f"(batch {state['budget'].get('batch_size', '—')}), arithmetic `{state['budget'].get('facts', 'full')}`. "
        f"Parallel languages in order of addition: {', '.join(cfg['languages'][: max(state['budget']['ks'])])}; "
        f"held out (never trained): {', '.join(cfg['held_out'])}. "
        f"Seeds per point: {', '.join(map(str, state.get('seeds') or [cfg.get('seed', 0)]))}.",
        "",
        "**World:** "
        + world_line(state)
        + ". "
        + (
            "A cipher language re-spells every word type of English's questions it does not keep; numbers, the "
            "instruction and the answer format are English's, and its text is never trained on. **Transfer is "
            "partly built in by construction:** the kept words are words the model was trained on, so held-out "
            "accuracy measures how far a model reads a partly familiar text — with the dial s setting how familiar "
            "— not transfer between unrelated languages."
            if world.get("kind") == "cipher"
            else "Held-out languages are natural languages of the world, with their own scripts, words and templates."
        ),
        "",
        f"![accuracy vs number of training languages]({figure})",
        "",
        "## Held-out accuracy, NLL and MTI per point",
        "",
        "Accuracy: mean over seeds (and, for held-out, over the held-out languages); 95 % interval from a bootstrap "
        "over seeds and test problems. NLL: teacher-forced NLL (nats per problem) of the worked answer's operator "
        "and digits, mean over problems and seeds, with the same bootstrap's 95 % interval — compare held-out NLL only "
        "between runs whose trained NLL is alike.",
        "",
        "| k | n_languages | seeds | held-out accuracy [95% CI] | held-out NLL [95% CI] | trained NLL "
        "| MTI (non-English) | MTI (held-out) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in pts:
        mti = p.get("mti") or {}
        lines.append(
            f"| {p['k']} | {p['n_languages']} | {len(p.get('seeds') or [1])} | "
            f"{_fmt(p.get('held_out_accuracy', p['held_out']))} {_ci(p.get('held_out_ci'), 3)} | "
            f"{_fmt(p.get('held_out_nll'), 2)} {_ci(p.get('held_out_nll_ci'), 2)} | {_fmt(p.get('trained_nll'), 2)} | "
            f"{_fmt(mti.get('mti'), 2)} | "
            f"{_fmt(mti.get('mti_held_out'), 2)} |"
        )
    lines += [
        "",
        "## Accuracy per language",
        "",
        "| k | n_languages | run(s) | " + " | ".join(langs) + " | held-out mean |",
        "|" + "---|" * (len(langs) + 4),
    ]
    lines.append(
        f"| untrained | — | `{state.get('before_run', '')}` | "
        + " | ".join(_fmt(before.get(l)) for l in langs)
        + " | "
        + _fmt(_mean([before.get(l) for l in cfg["held_out"]]))
        + " |"
    )
    for p in pts:
        lines.append(
            f"| {p['k']} | {p['n_languages']} | `{p['run_id']}`"
            + (f" +{len(p['run_ids']) - 1}" if len(p.get("run_ids") or []) > 1 else "")
            + " | "
            + " | ".join(_fmt(p["accuracy"].get(l)) + ("*" if l in p["trained"] else "") for l in langs)
            + f" | {_fmt(p['held_out'])} |"
        )
    lines += [
        "",
        "\\* trained language of that run.",
        "",
        f"MTI: `{FORMULA}` with src = en, against the untrained model, mean over seeds; *non-English* averages l over "
        "every language but English (the run's own trained ones included), *held-out* over the held-out languages "
        "only.",
        "",
        "## Fit",
        "",
    ]
    if fit.get("form"):
        params = ", ".join(
            f"{k} = {v:.4g} [{fit['ci'][k][0]:.4g}, {fit['ci'][k][1]:.4g}]" for k, v in fit["params"].items()
        )
        gap, leap, change = fit.get("gap"), fit.get("leap"), fit.get("change")
        lines += [
            f"- y = {fit['y']} against x = n_languages, fitted on x ≥ 2: **{fit['formula']}**, {params} "
            f"(95% bootstrap intervals), R² = {_fmt(fit.get('r2'))}.",
            f"- First-Parallel Leap (y at x=2 − y at x=1): **{_fmt(leap and leap['value'])}** "
            f"{_ci(leap and leap.get('ci'), 3)}"
            + (f", {leap['ratio']:.2f}× the fitted gain per language after x=2" if leap and leap.get("ratio") else "")
            + f" — {_zero(leap)}.",
            f"- Monolingual Generalization Gap (fit's prediction at x=1 − actual): **{_fmt(gap and gap['value'])}** "
            f"{_ci(gap and gap.get('ci'), 3)} — {_zero(gap)}.",
            f"- Change from the first point to the last: {_fmt(change and change.get('value'))} "
            f"{_ci(change and change.get('ci'), 3)} — {_zero(change)}.",
            f"- Intervals: {fit.get('ci_method', 'bootstrap')}.",
            *[f"- ⚠ {w}" for w in fit.get("warnings") or []],
            f"- Fit run: `{fit.get('run_id')}`.",
        ]
    else:
        lines.append(f"No fit: {fit.get('error', 'not enough points')}.")
    lines += ["", "## Wall time (seconds)", "", "Runs go side by side on a CPU, so their times overlap.", ""]
    lines += ["| stage | s |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in (state.get("timings") or {}).items()]
    lines += [
        "",
        f"Re-run `labkit experiment parallel-scaling --budget {cfg['budget']}` with the same options "
        "to reuse these runs.",
    ]
    return "\n".join(lines) + "\n"


def figure_png(state: dict, path, scale: int = 2) -> None:
    """The figure as a PNG (Pillow): held-out accuracy with its 95 % intervals, the fit and its band, English and the
    trained mean, for pages that do not render SVG."""
    from PIL import Image, ImageDraw, ImageFont

    pts = sorted(state.get("points") or [], key=lambda p: p["n_languages"])
    fit = state.get("fit") or {}
    x_max = max([p["n_languages"] for p in pts] + [2])
    w, h, pad = W * scale, H * scale, PAD * scale
    sx = lambda x: pad + (x - 1) / max(x_max - 1, 1) * (w - 2 * pad)  # noqa: E731
    sy = lambda y: h - pad - max(0.0, min(1.0, y)) * (h - 2 * pad)  # noqa: E731
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img, "RGBA")
    try:
        font = ImageFont.load_default(size=12 * scale)
    except TypeError:  # an old Pillow
        font = ImageFont.load_default()
    rgb = lambda c, a=255: (int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), a)  # noqa: E731
    for t in range(0, 11, 2):
        y = sy(t / 10)
        d.line([(pad, y), (w - pad, y)], fill=(235, 235, 235), width=scale)
        d.text((pad - 8 * scale, y), f"{t / 10:.1f}", fill="black", font=font, anchor="rm")
    for n in range(1, x_max + 1):
        d.text((sx(n), h - pad + 12 * scale), str(n), fill="black", font=font, anchor="mm")
    d.text((w / 2, h - 12 * scale), "number of training languages (1 = English only)", fill="black", font=font,
           anchor="mm")  # fmt: skip
    preds = fit.get("predictions") or []
    if len(preds) >= 2:
        band = [(sx(p["x"]), sy(p["hi"])) for p in preds] + [(sx(p["x"]), sy(p["lo"])) for p in reversed(preds)]
        d.polygon(band, fill=rgb(COLORS["held"], 38))
    xs = [1 + i * (x_max - 1) / 60 for i in range(61)]
    ys = fit_curve(fit, xs)
    if ys:
        line = [(sx(x), sy(y)) for x, y in zip(xs, ys) if math.isfinite(y)]
        for i in range(0, len(line) - 1, 2):  # dashed
            d.line(line[i : i + 2], fill=rgb(COLORS["held"]), width=2 * scale)
    for p in pts:
        ci = p.get("held_out_ci")
        if ci and None not in ci:
            x = sx(p["n_languages"])
            d.line([(x, sy(ci[0])), (x, sy(ci[1]))], fill=rgb(COLORS["held"]), width=2 * scale)
            for y in (sy(ci[0]), sy(ci[1])):
                d.line([(x - 5 * scale, y), (x + 5 * scale, y)], fill=rgb(COLORS["held"]), width=2 * scale)
    series = [
        ("held", "held-out mean (95% CI over seeds and problems)", lambda p: p.get("held_out")),
        ("en", "English", lambda p: p["accuracy"].get("en")),
        ("trained", "trained non-English mean",
         lambda p: _mean([p["accuracy"].get(l) for l in p.get("trained", []) if l != "en"])),
    ]  # fmt: skip
    r = 4 * scale
    for i, (key, label, get) in enumerate(series):
        xy = [(sx(p["n_languages"]), sy(get(p))) for p in pts if get(p) is not None]
        if len(xy) > 1:
            d.line(xy, fill=rgb(COLORS[key], 128), width=scale)
        for a, b in xy:
            d.ellipse([a - r, b - r, a + r, b + r], fill=rgb(COLORS[key]))
        ly = pad - 30 * scale + 14 * scale * i
        d.ellipse([pad + 10 * scale - r, ly - r, pad + 10 * scale + r, ly + r], fill=rgb(COLORS[key]))
        d.text((pad + 20 * scale, ly), label, fill="black", font=font, anchor="lm")
    if ys:
        d.text((w - pad, pad - 30 * scale), f"fit ({fit.get('formula', '')}, x >= 2)", fill="black", font=font,
               anchor="rm")  # fmt: skip
    img.save(path)
