"""The pieces every page of this project is built from: one stylesheet, escaping, number formats,
tables and the page shell. Pages are self-contained: inline style, no CDN, not even a favicon."""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2329;
 margin:0 auto;max-width:1180px;padding:18px 22px 60px;background:#fff}
h1{font-size:1.45em;margin:.2em 0 .1em}h2{font-size:1.15em;margin:1.6em 0 .5em;
 border-bottom:1px solid #dde2e6;padding-bottom:.2em}
.sub{color:#5b6770;margin:0 0 1em}.verdict{background:#f3f6f9;border-left:4px solid #4a7bb7;
 padding:.6em .9em;margin:.8em 0}
table{border-collapse:collapse;margin:.3em 0 1em;font-variant-numeric:tabular-nums}
th,td{padding:.28em .7em;border-bottom:1px solid #e6e9ec;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa;font-weight:600}
table.info td,table.info th{text-align:left}table.info td:first-child{color:#5b6770;white-space:nowrap}
.wide{overflow-x:auto}img{max-width:100%;height:auto;border:1px solid #e6e9ec}
.good{color:#1a7f37}.bad{color:#c0392b}a{color:#2357a4}code{font-size:.92em}
"""


def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def finite(value: Any) -> float | None:
    """`value` as a float, or None when it is missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pct(value: Any, digits: int = 1) -> str:
    number = finite(value)
    return "–" if number is None else f"{100 * number:+.{digits}f}%"


def share(value: Any, digits: int = 1) -> str:
    """A proportion (time in market, hit rate) as a percentage without a sign."""
    number = finite(value)
    return "–" if number is None else f"{100 * number:.{digits}f}%"


def pvalue(value: Any) -> str:
    """A p-value: three decimals, `<0.001` below that, `–` when missing."""
    number = finite(value)
    if number is None:
        return "–"
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def plural(count: int, noun: str) -> str:
    """`1 trade`, `2 trades`, `0 trades`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def fixed(digits: int) -> Callable[[Any], str]:
    """A formatter with `digits` decimals and never scientific notation (a Sharpe of 0.004 is 0.00).

    num switches to e-notation below 10^-digits, right for an MSE, unreadable in a ranking.
    """
    return lambda value: "–" if finite(value) is None else f"{finite(value):.{digits}f}"


def num(value: Any, digits: int = 2) -> str:
    number = finite(value)
    if number is None:
        return "–"
    tiny = number != 0 and abs(number) < 10 ** -digits
    return f"{number:.{digits}e}" if tiny else f"{number:.{digits}f}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """An HTML table from already-escaped cell strings."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    klass = f' class="{css}"' if css else ""
    return (f'<div class="wide"><table{klass}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def figure(path: Path, caption: str) -> str:
    """A PNG embedded as a data URI with its caption ("" when the file is missing)."""
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def page(title: str, body: str, script: str = "") -> str:
    """A complete page: inline style (and script), no external resource, not even a favicon."""
    extra = f"<script>{script}</script>" if script else ""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" href=\"data:,\"><title>{esc(title)}</title><style>{CSS}</style>"
            f"</head><body>{body}{extra}</body></html>\n")


HIDDEN_KEYS = ("_target_", "_partial_", "_convert_")

def settings_text(group: Any) -> str:
    """`class(key=value, ...)` for one config group, e.g. the forecaster or the strategy."""
    if not isinstance(group, dict):
        return "none" if group is None else str(group)
    name = str(group.get("_target_", "")).rpartition(".")[2]
    params = ", ".join(f"{k}={v}" for k, v in group.items()
                       if k not in HIDDEN_KEYS and not isinstance(v, (dict, list)))
    return f"{name}({params})" if name else params


def forecaster_label(group: Any) -> str:
    """A forecaster's short name for labels: `LSTMForecaster(...)` -> "LSTM", ridge -> "Ridge"."""
    name = settings_text(group).split("(")[0]
    return name.removesuffix("Forecaster") or name or "model"


def embed_plots(folder: Path, plots: Iterable[tuple[str, str]]) -> str:
    """The PNGs of `plots` (name, caption) that exist in `folder`, as data-URI figures."""
    return "".join(figure(folder / name, caption) for name, caption in plots)


_SORT_JS = """(function(){var t=document.getElementById('%s');if(!t)return;
var h=t.tHead.rows[0].cells;
function key(c){var v=c.getAttribute('data-v');var n=parseFloat(v);return v!==''&&!isNaN(n)?n:v;}
function sortBy(i,desc){var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
rows.sort(function(r,s){var x=key(r.cells[i]),y=key(s.cells[i]);
if(x===''&&y==='')return 0;if(x==='')return 1;if(y==='')return -1;
var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
return desc?-c:c;});
rows.forEach(function(r){b.appendChild(r);});
for(var j=0;j<h.length;j++)h[j].removeAttribute('aria-sort');
h[i].setAttribute('aria-sort',desc?'descending':'ascending');}
Array.prototype.forEach.call(h,function(c,i){c.addEventListener('click',function(){
sortBy(i,c.getAttribute('aria-sort')==='ascending');});});
var m=/sort=(-?)(\\w+)/.exec(location.hash);
if(m)Array.prototype.forEach.call(h,function(c,i){
if(c.getAttribute('data-key')===m[2])sortBy(i,m[1]==='-');});
})();"""


def sort_script(table_id: str) -> str:
    """Inline script that sorts the table `table_id` by a clicked header (click again: reverse).

    Cells sort by their `data-v` value (numbers as numbers, empty last); `page.html#sort=-key`
    opens sorted by the header whose `data-key` is `key`, descending.
    """
    return _SORT_JS % table_id
