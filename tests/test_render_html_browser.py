"""The HTML report in a real browser (headless Chromium through chromedriver).

Search, click-for-facts, collapse and both switches are driven as a user would, and
what the page then shows is compared with the analyses. Skipped when Chromium,
chromedriver or selenium is missing, except in CI (``CI=true``), where that fails.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import graphcheck
from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph
from graphcheck.analyses.training_transform import training_transform
from graphcheck.profile_choice import ProfileChoice
from graphcheck.reporters.html_page import ProfileView, render_html
from graphcheck.rules.runner import run_rules
from graphcheck.semantics import PROFILES, Scenario

ROOT = Path(__file__).resolve().parents[1]
MERGED = ROOT / "samples" / "merged_frozen.keras"
INCEPTION = ROOT / "samples" / "transfer_inception.h5"
# Chromium refuses to run as root without --no-sandbox; the rest keep it off the network.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900",
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _find(name: str) -> str | None:
    return shutil.which(name)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = []
    chromium, driver_path = _find("chromium"), _find("chromedriver")
    if chromium is None:
        missing.append("chromium")
    if driver_path is None:
        missing.append("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if shutil.which("dot") is None:
        missing.append("Graphviz dot")
    if missing:
        message = "needs " + ", ".join(missing) + " (scripts/setup.sh --test installs them)"
        if _in_ci():
            pytest.fail(message + "; CI must run the browser tests")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile_dir = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path_factory.mktemp("browser"))
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@functools.cache
def analyses(path: Path) -> tuple[ModelAnalysis, ...]:
    first = graphcheck.load(path).analyse()
    others = [
        analyse_graph(first.graph, ProfileChoice(p, None, "test"))
        for p in PROFILES.values() if p != first.profile
    ]
    return (first, *others)


@functools.cache
def page_file(path: Path) -> Path:
    out = Path(tempfile.mkdtemp(prefix="graphcheck-html-")) / f"{path.stem}.html"
    out.write_bytes(render_html([ProfileView(a, run_rules(a)) for a in analyses(path)]))
    return out


def open_page(browser: Any, path: Path) -> None:
    browser.get(page_file(path).as_uri())
    assert browser.execute_script("return document.body.getAttribute('data-ready')") == "1"
    assert browser.execute_script("return window.__gcErrors || []") == []
    # Self-contained: the page loaded no resource besides itself.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def node(browser: Any, path: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'.gc-node[data-id="{path}"]')


def rendered_ids(browser: Any) -> set[str]:
    return set(browser.execute_script(
        "return Array.from(document.querySelectorAll('.gc-node[data-id]'))"
        ".map(function (e) { return e.getAttribute('data-id'); })"
    ))


def choose(browser: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", select_id)).select_by_value(value)


def click(browser: Any, element: Any) -> None:
    # A click where a user clicks: on the element's own box, wherever the view is.
    browser.execute_script("arguments[0].scrollIntoView && arguments[0].scrollIntoView()", element)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(element).click().perform()


def test_search_highlights_and_goes_to_matches(browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    open_page(browser, MERGED)
    box = browser.find_element("id", "gc-search")
    box.clear()
    box.send_keys("DROPOUT")
    graph = analyses(MERGED)[0].graph
    expected = {p for p in graph if "dropout" in graph.call(p).layer.name.lower()}
    assert expected
    matched = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('.gc-node.gc-match'))"
        ".map(function (e) { return e.getAttribute('data-id'); })"
    ))
    assert matched == expected
    assert browser.find_element("id", "gc-search-count").text == f"{len(expected)} matches"
    box.send_keys(Keys.ENTER)
    first = browser.find_element("css selector", ".gc-node.gc-selected").get_attribute("data-id")
    assert first in expected
    assert browser.find_element("css selector", "#gc-facts h2").text == graph.call(first).layer.name
    box.send_keys(Keys.ENTER)
    second = browser.find_element("css selector", ".gc-node.gc-selected").get_attribute("data-id")
    assert {first, second} == expected
    box.send_keys(Keys.ESCAPE)  # leaves the box; a second Escape clears the selection
    browser.find_element("tag name", "body").send_keys(Keys.ESCAPE)
    assert not browser.find_elements("css selector", ".gc-node.gc-selected")
    browser.find_element("tag name", "body").send_keys("/")
    assert browser.switch_to.active_element == box
    box.clear()
    box.send_keys("no such layer")
    assert browser.find_element("id", "gc-search-count").text == "no match"
    assert not browser.find_elements("css selector", ".gc-node.gc-match")


def test_click_shows_the_facts_of_a_node(browser: Any) -> None:
    open_page(browser, MERGED)
    analysis = analyses(MERGED)[0]
    item = analysis.stochastic[0]
    click(browser, node(browser, item.path))
    facts = browser.find_element("id", "gc-facts").text
    state = analysis.frozen.calls[item.path]
    assert item.class_name in facts
    if state.frozen_by:
        by = "its own trainable=False" if state.frozen_by_kind == "layer" else state.frozen_by
        assert f"yes, by {by}" in facts or f"yes, by the top model {by}" in facts
    for masked in item.masks:
        assert masked.producer in facts
    for consumer in item.consumers:
        assert consumer in facts
    transform = training_transform(item.spec)  # inverted dropout: the scale is said
    assert transform is not None and transform.text in facts and transform.inference in facts
    rows = browser.find_elements("css selector", "#gc-facts table.gc-active tr")
    shown = {r.find_elements("tag name", "td")[0].text: r.find_elements("tag name", "td")[1].text for r in rows}
    for scenario in Scenario:
        assert shown[scenario.label] == ("active" if item.active[scenario] else "off")
    training = browser.find_elements("css selector", "#gc-facts table.gc-training tr")
    for row, scenario in zip(training, Scenario, strict=True):
        assert row.text.startswith(f"{scenario.label} {analysis.training[item.path][scenario].value}:")
    # A layer the dropout masks says so, and links back to it.
    click(browser, node(browser, item.masks[0].producer))
    assert item.path in browser.find_element("id", "gc-facts").text
    link = browser.find_element("css selector", f'#gc-facts [data-goto="{item.path}"]')
    link.click()
    assert browser.find_element("css selector", ".gc-node.gc-selected").get_attribute("data-id") == item.path


def test_collapse_and_expand_a_submodel(browser: Any) -> None:
    open_page(browser, INCEPTION)
    graph = analyses(INCEPTION)[0].graph
    (base,) = [p for p, s in graph.submodels.items() if not s.parents]
    inside = {p for p in graph if base in graph.call(p).submodels}
    everything = rendered_ids(browser)
    assert inside <= everything
    height = browser.execute_script("return document.getElementById('gc-viewport').getBBox().height")
    click(browser, browser.find_element("css selector", f'.gc-panel .gc-toggle[data-panel="{base}"]'))
    collapsed = rendered_ids(browser)
    assert collapsed == everything - inside
    assert browser.find_elements("css selector", f'.gc-collapsed[data-panel="{base}"]')
    # The frozen base is the whole width of its rows, so the drawing closes up.
    smaller = browser.execute_script("return document.getElementById('gc-viewport').getBBox().height")
    assert smaller < height / 3
    # Search still finds a layer inside, on the collapsed box; going to it expands it.
    box = browser.find_element("id", "gc-search")
    box.clear()
    box.send_keys("mixed7")
    assert browser.find_elements("css selector", f'.gc-collapsed.gc-match[data-panel="{base}"]')
    click(browser, browser.find_element("css selector", f'.gc-collapsed .gc-toggle[data-panel="{base}"]'))
    assert rendered_ids(browser) == everything
    box.clear()


def test_scenario_switch_recolours_what_is_active(browser: Any) -> None:
    open_page(browser, MERGED)
    analysis = analyses(MERGED)[0]
    for scenario in Scenario:
        choose(browser, "gc-scenario", scenario.value)
        for item in analysis.stochastic:
            classes = node(browser, item.path).get_attribute("class").split()
            active = item.active[scenario] and not item.spec.is_noop
            if not active:
                assert "gc-role-stochastic-off" in classes
            elif scenario is Scenario.FIT:
                assert "gc-role-stochastic-fit" in classes
            else:
                assert "gc-role-stochastic-inference" in classes
        masked = browser.find_elements("css selector", ".gc-edge.gc-masked")
        kinds = sorted(e.get_attribute("class").split()[-1] for e in masked)
        expected = sorted(
            ("gc-mask-" + ("fit" if scenario is Scenario.FIT else "inference"))
            if item.active[scenario] and not item.spec.is_noop else "gc-mask-off"
            for item in analysis.stochastic for _ in item.masks
        )
        assert kinds == expected


def test_profile_switch_marks_what_changes(browser: Any) -> None:
    open_page(browser, MERGED)
    first, *others = analyses(MERGED)
    assert not browser.find_elements("css selector", ".gc-node.gc-changed")

    def behaviour(a: ModelAnalysis) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path in a.graph:
            if path in a.graph.inputs:
                continue
            s = next((x for x in a.stochastic if x.path == path), None)
            m = next((x for x in a.mode_dependent if x.path == path), None)
            out[path] = (
                s and tuple(s.active.values()), m and tuple(m.batch_statistics.values()),
                a.frozen.calls[path].will_train, a.frozen.calls[path].frozen,
                tuple(r.value for r in a.training[path].values()),
            )
        return out

    base = behaviour(first)
    some_change = False
    for index, other in enumerate(others, start=1):
        choose(browser, "gc-profile", str(index))
        theirs = behaviour(other)
        expected = {p for p in base if base[p] != theirs[p]}
        some_change |= bool(expected)
        marked = set(browser.execute_script(
            "return Array.from(document.querySelectorAll('.gc-node.gc-changed'))"
            ".map(function (e) { return e.getAttribute('data-id'); })"
        ))
        assert marked == expected, other.profile.name
        listed = browser.find_element("id", "gc-changes").text
        assert other.profile.title in listed
        for path in expected:  # by name, or in its outermost submodel's line
            outer = first.graph.call(path).submodels[:1]
            assert path in listed or f"{outer[0]} (" in listed
        # The recolouring follows the profile: a dropout off under it is drawn off.
        choose(browser, "gc-scenario", "fit")
        for item in other.stochastic:
            classes = node(browser, item.path).get_attribute("class").split()
            assert ("gc-role-stochastic-off" in classes) == (
                not item.active[Scenario.FIT] or item.spec.is_noop
            )
    assert some_change  # the sample is chosen to differ between Keras 2 and Keras 3.0-3.15


def test_profile_changes_list_activity_first_and_a_frozen_base_once(browser: Any) -> None:
    """Under Keras 2, the dropout that stops acting leads the list; the base's calls are one line."""
    open_page(browser, INCEPTION)
    first, *others = analyses(INCEPTION)
    layer_calls = len(first.graph) - len(first.graph.inputs)  # as `check` counts them
    assert f"{layer_calls} layer calls" in browser.find_element("id", "gc-title").text
    index = next(i for i, a in enumerate(others, start=1) if a.profile.name == "keras2")
    choose(browser, "gc-profile", str(index))
    keras2 = others[index - 1]
    flipped = [s.path for s in keras2.stochastic
               if s.active != next(f for f in first.stochastic if f.path == s.path).active]
    assert flipped  # the sample's dropout acts in fit() under Keras 3.15, not under Keras 2
    items = [li.text for li in browser.find_elements("css selector", "#gc-change-list li")]
    assert items[0].startswith(flipped[0] + ": fit(): active -> off")
    changed_in_base = [
        p for p in browser.execute_script(
            "return Array.from(document.querySelectorAll('.gc-node.gc-changed'))"
            ".map(function (e) { return e.getAttribute('data-id'); })")
        if first.graph.call(p).submodels[:1] == ("inception_v3_mixed7",)
    ]
    assert len(changed_in_base) > 100
    base_lines = [t for t in items if t.startswith("inception_v3_mixed7")]
    assert base_lines == [f"inception_v3_mixed7 ({len(changed_in_base)} calls): "
                          "fit(): receives training=True -> False"]


def test_long_paths_wrap_in_the_side_panel(browser: Any, tmp_path: Path) -> None:
    """A long file path in the model's facts wraps; the side panel never scrolls sideways."""
    deep = tmp_path / ("a_rather_long_folder_name_" * 4) / "models_for_the_quarterly_review"
    deep.mkdir(parents=True)
    model = deep / MERGED.name
    model.write_bytes(MERGED.read_bytes())
    page = tmp_path / "page.html"
    page.write_bytes(render_html([ProfileView(a, run_rules(a)) for a in analyses(model)]))
    browser.get(page.as_uri())
    side = "var s = document.getElementById('gc-side'); return [s.scrollWidth, s.clientWidth];"
    scroll, client = browser.execute_script(side)
    assert str(model) in browser.find_element("id", "gc-facts").text.replace("\n", "")
    assert scroll <= client


def test_page_opens_with_the_submodels_asked_collapsed(browser: Any, tmp_path: Path) -> None:
    """render_html(collapsed=...) (render --collapse frozen) opens with the base as one box."""
    page = tmp_path / "collapsed.html"
    page.write_bytes(render_html([ProfileView(a) for a in analyses(INCEPTION)],
                                 collapsed=["inception_v3_mixed7"]))
    browser.get(page.as_uri())
    assert browser.find_elements("css selector", '.gc-collapsed[data-panel="inception_v3_mixed7"]')
    assert not [i for i in rendered_ids(browser) if i.startswith("inception_v3_mixed7/")]
    browser.find_element("id", "gc-expand-all").click()
    assert any(i.startswith("inception_v3_mixed7/") for i in rendered_ids(browser))


def test_pan_and_zoom_move_the_view(browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(browser, MERGED)
    canvas = browser.find_element("id", "gc-canvas")
    transform = "return document.getElementById('gc-viewport').getAttribute('transform')"
    before = browser.execute_script(transform)
    ActionChains(browser).move_to_element_with_offset(canvas, -300, -250).click_and_hold() \
        .move_by_offset(80, 60).release().perform()
    moved = browser.execute_script(transform)
    assert moved != before
    browser.execute_script(
        "document.getElementById('gc-canvas').dispatchEvent(new WheelEvent('wheel', "
        "{deltaY: -300, clientX: 300, clientY: 300, bubbles: true, cancelable: true}))"
    )
    zoomed = browser.execute_script(transform)
    scale = lambda t: float(t.split("scale(")[1].rstrip(")"))  # noqa: E731
    assert scale(zoomed) > scale(moved)


def page_of(top: Any, keras_version: str = "3.15.1") -> Path:
    """The page of a hand-made model, under every profile (its saving Keras's first)."""
    from helpers import graph_of

    from graphcheck.semantics import profile_for_version

    graph = graph_of(top, keras_version=keras_version)
    chosen = profile_for_version(keras_version)
    order = [chosen, *(p for p in PROFILES.values() if p != chosen)]
    views = [ProfileView(analyse_graph(graph, ProfileChoice(p, None, "test"))) for p in order]
    out = Path(tempfile.mkdtemp(prefix="graphcheck-html-")) / "page.html"
    out.write_bytes(render_html(views))
    return out


def test_nested_submodels_collapse_one_level_at_a_time(browser: Any) -> None:
    from helpers import three_levels

    browser.get(page_of(three_levels()).as_uri())
    assert browser.execute_script("return document.body.getAttribute('data-ready')") == "1"
    everything = rendered_ids(browser)
    toggle = "document.querySelector('.gc-panel .gc-toggle[data-panel=\"' + arguments[0] + '\"]')" \
             ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    browser.execute_script(toggle, "level2/level3")
    assert rendered_ids(browser) == everything - {"level2/level3/l3_drop"}
    assert browser.find_elements("css selector", '.gc-collapsed[data-panel="level2/level3"]')
    browser.execute_script(toggle, "level2")
    assert rendered_ids(browser) == everything - {"level2/l2_drop", "level2/level3/l3_drop"}
    # The inner submodel is drawn neither as a panel nor as a box inside a collapsed one.
    assert not browser.find_elements("css selector", '[data-panel="level2/level3"]')
    browser.find_element("id", "gc-expand-all").click()
    assert rendered_ids(browser) == everything
    assert browser.execute_script("return window.__gcErrors") == []


def test_panel_labels_are_never_cut_short(browser: Any) -> None:
    """A small submodel whose trainable flag is not recorded still shows its whole label."""
    from helpers import call, input_layer, layer, model, ref

    inner = model("tiny", [input_layer("t_in"), layer("t_drop", "Dropout", call(ref("t_in")), rate=0.5)],
                  ["t_in"], [ref("t_drop")], trainable=None)
    top = model("top", [input_layer("x"), layer("tiny", "Functional", call(ref("x")), trainable=None,
                                                submodel=inner)], ["x"], [ref("tiny")])
    browser.get(page_of(top).as_uri())
    labels = [t.text for t in browser.find_elements("css selector", ".gc-panel-label text")]
    assert labels[1:] == [
        "Functional; declared trainable not recorded; no weights inside",
        "call site: no training= argument",
    ]
    assert not [t for t in labels if t.endswith("\u2026")]


def test_names_are_text_never_markup(browser: Any) -> None:
    """Layer names come from an untrusted file: the page shows them, it never parses them."""
    from helpers import call, input_layer, layer, model, ref

    evil = '</script><img src=x onerror="window.__pwned=1">'
    quote = 'a"b<i>c'
    top = model(
        "top",
        [
            input_layer("x"),
            layer(evil, "Dense", call(ref("x"))),
            layer(quote, "Dropout", call(ref(evil)), rate=0.5),
        ],
        ["x"],
        [ref(quote)],
    )
    browser.get(page_of(top).as_uri())
    assert browser.execute_script("return document.body.getAttribute('data-ready')") == "1"
    assert browser.execute_script("return window.__gcErrors") == []
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return document.querySelectorAll('img, i').length") == 0
    from helpers import graph_of

    paths = set(graph_of(top))
    assert paths <= rendered_ids(browser)
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('.gc-node .gc-name'))"
        ".map(function (e) { return e.textContent; })"
    )
    assert evil[:10] in " ".join(shown) and quote in shown  # long names are cut with an ellipsis
    (quote_path,) = (p for p in paths if "b<i>" in p)
    browser.execute_script(
        "var id = arguments[0]; Array.from(document.querySelectorAll('.gc-node')).find("
        "function (e) { return e.getAttribute('data-id') === id; })"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", quote_path)
    facts = browser.find_element("id", "gc-facts")
    assert facts.find_element("tag name", "h2").text == quote
    (evil_path,) = paths - {quote_path, "x"}
    assert evil_path in facts.text  # what the dropout masks, as text


@pytest.mark.parametrize("frozen_top", [False, True])
def test_facts_say_who_froze_a_layer(browser: Any, frozen_top: bool) -> None:
    """Its own trainable=False, or the top model's: the facts name which."""
    from helpers import call, graph_of, input_layer, layer, model, ref

    top = model(
        "top",
        [input_layer("x"), layer("fixed", "Dense", call(ref("x")), trainable=False),
         layer("free", "Dense", call(ref("fixed")))],
        ["x"],
        [ref("free")],
        trainable=not frozen_top,
    )
    analysis = analyse_graph(graph_of(top), ProfileChoice(PROFILES["keras3"], None, "test"))
    browser.get(page_of(top).as_uri())
    for path in ("fixed", "free"):
        state = analysis.frozen.calls[path]
        click(browser, node(browser, path))
        shown = browser.find_elements("css selector", "#gc-facts tr")
        frozen = next(r.text for r in shown if r.text.startswith("frozen "))
        if state.frozen_by_kind == "model":
            assert frozen == f"frozen yes, by the top model {state.frozen_by} (trainable=False)"
        elif state.frozen_by_kind == "layer":
            assert frozen == "frozen yes, by its own trainable=False"
        else:
            assert frozen == "frozen no"
    assert frozen_top == (analysis.frozen.calls["free"].frozen_by_kind == "model")


@pytest.mark.keras
def test_built_keras_family_boxes_say_what_graphcheck_read(browser: Any, tmp_path: Path) -> None:
    """A live model's page: the frozen TransformerEncoder is a frozen box whose status line
    counts its stochastic sublayers and follows the scenario, DropPath, which draws in
    its own code, is a stochastic octagon, filled where it draws and saying when, GetItem
    is a box without weights, and only the user's own class is unknown."""
    pytest.importorskip("keras_hub")
    from built_models import DROP_PATH, ENCODER, GET_ITEM, USER_CLASS, keras_family_model

    analysis = graphcheck.load(keras_family_model()).analyse()
    page = tmp_path / "built.html"
    page.write_bytes(render_html([ProfileView(analysis, run_rules(analysis))]))
    browser.get(page.as_uri())
    assert browser.execute_script("return window.__gcErrors || []") == []
    held = [item for item in analysis.inner_stochastic if item.holder == ENCODER]
    (own,) = [item for item in analysis.inner_stochastic if item.holder == DROP_PATH]
    for scenario in Scenario:
        drawn = "stochastic-off"
        if own.active[scenario]:
            drawn = "stochastic-fit" if scenario is Scenario.FIT else "stochastic-inference"
        roles = {ENCODER: "frozen", DROP_PATH: drawn, GET_ITEM: "weightless",
                 USER_CLASS: "unknown"}
        choose(browser, "gc-scenario", scenario.value)
        assert node(browser, DROP_PATH).find_elements("css selector", "polygon")
        for path, role in roles.items():
            assert f"gc-role-{role}" in node(browser, path).get_attribute("class").split()
        on = "ACTIVE in " if any(item.active[scenario] for item in held) else "off in "
        label = {"fit": "fit()", "predict": "predict()", "call": "model(x)"}[scenario.value]
        assert node(browser, ENCODER).text.splitlines()[-1] == (
            f"{len(held)} stochastic sublayer(s): {on}{label}")
        on = "ACTIVE in " if own.active[scenario] else "off in "
        assert node(browser, DROP_PATH).text.splitlines()[-1] == (
            f"draws random numbers: {on}{label}")
        # (the browser's text joins the class and the shape with one space)
        assert node(browser, GET_ITEM).text.splitlines() == [
            GET_ITEM, "GetItem (None, 8)", "no weights"]
        assert node(browser, USER_CLASS).text.splitlines()[-1] == "unknown class"


@pytest.mark.keras
def test_rate_0_sublayers_and_a_failed_symbolic_call_say_so(browser: Any, tmp_path: Path) -> None:
    """KerasHub 0.32's DINOv2: the embeddings' rate-0 Dropout never acts; the encoder's
    DropPath cannot be called symbolically, so the encoder's box says its randomness is
    not known."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.DINOV2Backbone(
        patch_size=4, num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16,
        drop_path_rate=0.3, image_shape=(8, 8, 3), position_embedding_shape=(8, 8, 3),
    )
    analysis = graphcheck.load(backbone).analyse()
    page = tmp_path / "dinov2.html"
    page.write_bytes(render_html([ProfileView(analysis)]))
    browser.get(page.as_uri())
    assert browser.execute_script("return window.__gcErrors || []") == []
    failed = {i.holder for i in analysis.inner_stochastic if i.own_random and i.draws is None}
    quiet = {i.holder for i in analysis.inner_stochastic if i.spec.is_noop} - failed
    assert failed and quiet
    for scenario in Scenario:
        choose(browser, "gc-scenario", scenario.value)
        for holder in failed:
            assert node(browser, holder).text.splitlines()[-1] == (
                "randomness not known: its symbolic call failed")
        for holder in quiet:
            count = sum(1 for i in analysis.inner_stochastic if i.holder == holder)
            assert node(browser, holder).text.splitlines()[-1] == (
                f"{count} stochastic sublayer(s): rate 0: never acts")


@pytest.mark.keras
def test_a_drop_path_call_says_it_drops_whole_samples(browser: Any, tmp_path: Path) -> None:
    """ConvNeXt's StochasticDepth, read from a .keras file: its facts say which tensor's
    samples it drops, and the inverted scale of the kept ones."""
    import keras
    from keras.src.applications.convnext import StochasticDepth

    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(4, name="dense")(inputs)
    saved = tmp_path / "drop_path.keras"
    keras.Model(inputs, StochasticDepth(0.3, name="depth")(hidden)).save(saved)
    analysis = graphcheck.load(str(saved)).analyse()
    (item,) = analysis.stochastic
    page = tmp_path / "drop_path.html"
    page.write_bytes(render_html([ProfileView(analysis, run_rules(analysis))]))
    browser.get(page.as_uri())
    click(browser, node(browser, "depth"))
    rows = browser.find_elements("css selector", "#gc-facts table.gc-active tr")
    shown = {r.find_elements("tag name", "td")[0].text: r.find_elements("tag name", "td")[1].text
             for r in rows}
    assert shown["drops whole samples of"] == "dense (its output)"
    transform = training_transform(item.spec)
    assert transform is not None and transform.text in browser.find_element("id", "gc-facts").text
    assert "kept samples x1/(1-0.3)" in transform.text


def test_a_long_path_never_hides_the_version_and_count(browser: Any, tmp_path: Path) -> None:
    """A model deep in a long folder path: the title shows its file name, the Keras version
    and the layer-call count; the whole path is the file name's tooltip."""
    deep = tmp_path.joinpath(*["a_rather_long_folder_name_for_a_registry_mirror"] * 6)
    deep.mkdir(parents=True)
    model = deep / MERGED.name
    shutil.copyfile(MERGED, model)
    open_page(browser, model)
    first = analyses(model)[0]
    title = browser.find_element("id", "gc-title")
    text = title.text
    assert f"{len(first.graph) - len(first.graph.inputs)} layer calls" in text
    assert f"Keras {first.saved.keras_version}" in text
    assert MERGED.name in text
    assert browser.find_element("id", "gc-file").get_attribute("title") == str(model)


def test_legend_says_what_the_drawing_s_legend_says(browser: Any) -> None:
    """The rows that mean the same in every scenario are worded as the PDF's legend."""
    from graphcheck.reporters.drawing import NODE_STYLES, NodeRole

    open_page(browser, MERGED)
    legend = browser.find_element("id", "gc-legend").text.replace("\n", " ")
    for role in (NodeRole.TRAINABLE, NodeRole.FROZEN, NodeRole.WEIGHTLESS, NodeRole.UNKNOWN):
        assert NODE_STYLES[role].legend.replace("\n", " ") in legend
