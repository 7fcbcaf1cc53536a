"""docs/_build/pagehtml.py: the HTML post-processing of a chapter, each step on its own (fast)."""

from __future__ import annotations

import base64
import struct
import zlib

import nbformat
import pytest

from docs._build import pagehtml

ALT = 'alt="No description has been provided for this image"'


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_notebook_styles_become_one_link():
    page = (
        "<html><head><title>t</title></head><body><article>"
        '<style type="text/css">\n.a { color: red; }\n</style><div>x</div>'
        "<STYLE>.b{margin:0}</STYLE ><p>y</p></article></body></html>"
    )
    assert pagehtml.notebook_css(page) == ".a { color: red; }\n.b{margin:0}"
    link = '<link rel="stylesheet" href="../n.css">'
    out = pagehtml.replace_styles(page, link)
    assert out == (
        "<html><head><title>t</title></head><body><article>"
        f"{link}<div>x</div><p>y</p></article></body></html>"
    )
    assert pagehtml.replace_styles("<p>no styles</p>", link) == "<p>no styles</p>"


def test_styles_as_file_names_the_file_by_its_content():
    stored = {}

    def store(dest, css):
        stored[dest] = css
        return "../" + dest

    one = pagehtml.styles_as_file("<style>.a{}</style><p>x</p>", store)
    two = pagehtml.styles_as_file("<style>.b{}</style><p>x</p>", store)
    assert len(stored) == 2 and sorted(stored.values()) == [".a{}", ".b{}"]
    assert all(d.startswith("assets/stylesheets/notebook.") for d in stored)
    assert one != two and f'href="../{next(iter(stored))}"' in one
    assert pagehtml.styles_as_file("<p>none</p>", store) == "<p>none</p>" and len(stored) == 2


def test_figures_as_files_keeps_alt_and_size_and_loads_lazily():
    data = _png(7, 3)
    page = f'<p><img alt="图 1" src="data:image/png;base64,{base64.b64encode(data).decode()}"></p>'
    stored = {}

    def store(dest, content):
        stored[dest] = content
        return "../" + dest

    out = pagehtml.figures_as_files(page, store)
    ((dest, content),) = stored.items()
    assert content == data and dest.startswith("assets/figures/") and dest.endswith(".png")
    assert out == (
        f'<p><img alt="图 1" src="../{dest}" loading="lazy" decoding="async" width="7" height="3">'
        "</p>"
    )
    # the same figure twice is one file
    pagehtml.figures_as_files(page + page, store)
    assert len(stored) == 1


def _nb_with_images(*alts):
    nb = nbformat.v4.new_notebook()
    outputs = [
        nbformat.v4.new_output(
            "display_data", data={"image/png": "AAAA", "text/plain": alt}, metadata={}
        )
        for alt in alts
    ]
    nb.cells = [
        nbformat.v4.new_markdown_cell("x"),
        nbformat.v4.new_code_cell("f()", outputs=outputs),
    ]
    return nb


def test_alt_texts_come_from_the_figures_in_order():
    alts = pagehtml.image_alts(_nb_with_images("折线图：a <b>", "柱状图"))
    assert alts == ["折线图：a <b>", "柱状图"]
    html = pagehtml.fill_alt_texts(f"<img {ALT}><img {ALT}>", alts, "x.py")
    assert html == '<img alt="折线图：a &lt;b&gt;"><img alt="柱状图">'


@pytest.mark.parametrize(
    ("html", "alts", "message"),
    [
        (f"<img {ALT}>", [], "1 images without alt text but 0"),
        (f"<img {ALT}>", [""], "has no description"),
        (f"<img {ALT}>", ["<Figure size 640x480 with 1 Axes>"], "has no description"),
    ],
)
def test_figures_without_their_description_fail(html, alts, message):
    with pytest.raises(pagehtml.PageError, match=message):
        pagehtml.fill_alt_texts(html, alts, "x.py")


def test_outputs_leave_the_search_index_with_nested_divs():
    html = (
        '<div class="jp-Cell-outputWrapper"><div><div>out</div></div></div><p>prose</p>'
        '<div class="jp-Cell-outputWrapper">b</div>'
    )
    out = pagehtml.exclude_outputs_from_search(html, "x.py")
    assert out == (
        '<nb-output data-search-exclude="true"><div class="jp-Cell-outputWrapper"><div><div>out'
        '</div></div></div></nb-output><p>prose</p><nb-output data-search-exclude="true">'
        '<div class="jp-Cell-outputWrapper">b</div></nb-output>'
    )
    with pytest.raises(pagehtml.PageError, match="unbalanced"):
        pagehtml.exclude_outputs_from_search('<div class="jp-Cell-outputWrapper"><div>', "x.py")


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://cdn.example.org/x.js"></script>',
        "<img src='//cdn.example.org/a.png'>",
        '<style>.a{background:url("http://x.org/a.png")}</style>',
        '<script type="module">import("https://cdn.jsdelivr.net/mermaid.js")</script>',
    ],
)
def test_a_request_to_another_host_fails_the_build(html):
    with pytest.raises(pagehtml.PageError, match="another host"):
        pagehtml.check_self_contained(f"<p>x</p>{html}", "x.py")


def test_local_requests_and_plain_links_are_fine():
    html = '<script src="../assets/a.js"></script><a href="https://pytorch.org">PyTorch</a>'
    assert pagehtml.check_self_contained(html, "x.py") == html


def test_nbconvert_loaders_are_removed():
    html = (
        "<p>a</p><!-- Load mathjax --><script>MathJax.Hub.Config({})</script>"
        "<!-- End of mathjax configuration --><p>b</p>"
    )
    assert pagehtml.strip_loaders(html, "x.py") == "<p>a</p><p>b</p>"
    with pytest.raises(pagehtml.PageError, match="MathJax 2"):
        pagehtml.strip_loaders("<script>MathJax.Hub.Queue()</script>", "x.py")


def test_copy_buttons_in_chinese_and_out_of_the_index():
    html = (
        '<div class="clipboard-copy-txt" hidden>x = 1</div>'
        '<button aria-label="Copy to Clipboard"></button>'
        '<span class="notice" hidden>Copied!</span>'
    )
    out = pagehtml.localize_copy_buttons(html)
    assert "Copy" not in out and "Copied" not in out
    assert 'aria-label="复制代码"' in out and ">已复制</span>" in out
    assert out.count('data-search-exclude="true"') == 2
