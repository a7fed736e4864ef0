"""The provider in the Airflow web UI, driven by a real browser.

Headless Chromium (Debian's ``chromium`` package, installed by ``scripts/install_browser.sh``; no
browser download) is driven by Playwright against a real ``airflow api-server`` on a copy of the
migrated metadata DB, with the emulator CLI as the LakeFormation endpoint:

- the connection form of the LakeFormation type: every field with its label, no ``null`` anywhere,
  real defaults preselected, the ids marked required, secrets in masked inputs;
- a connection saved through that form (host + port, the form the README recommends) and the
  CLI-stored ``lakeformation_default`` both pass the list's Test button (``[core] test_connection =
  Enabled``); the saved secret never reaches the page;
- a finished run of the discovery example (``dag.test()`` in a subprocess, on the same DB): the
  start task's "LakeFormation Job" extra link opens the emulator's console page of that job with
  the run the task started highlighted (``?run={start_time}``).

Screenshots land in ``test-artifacts/ui/`` (gitignored; ``LF_UI_ARTEFACTS`` overrides the folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_lakeformation.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from tests.e2e.conftest import (
    EMULATOR_AK,
    EMULATOR_INSTANCE_ID,
    EMULATOR_PROJECT_ID,
    EMULATOR_SK,
    REPO,
    RUNNER,
    Emulator,
    ProcessGroup,
    airflow_cli,
    airflow_env,
    free_port,
    new_airflow_home,
    parse_result,
    start_emulator_process,
    wait_http,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

DAG_ID = "example_lakeformation_discovery"
START = "start_discovery_job"
ARTEFACTS = Path(os.environ.get("LF_UI_ARTEFACTS", REPO / "test-artifacts" / "ui"))
INSTALL_BROWSER = REPO / "scripts" / "install_browser.sh"
#: Chromium flags: headless, no sandbox (root in CI), and no traffic of the browser's own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Every wait in the browser (a 2-core machine shared with other Airflow processes is slow).
UI_TIMEOUT_MS = 90_000
TYPE_LABEL = "Huawei Cloud LakeFormation"
UI_CONN_ID = "lakeformation_ui"
WRONG_SK_CONN_ID = "lakeformation_wrong_sk"


@dataclass
class UiStack:
    api: str
    emulator: Emulator
    group: ProcessGroup
    #: ``E2E_RESULT`` of the discovery example run through ``dag.test()`` on the api-server's DB.
    run: dict[str, Any]


def shot(page: Page | Locator, name: str) -> Path:
    """Write a screenshot artefact and return its path."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / name
    page.screenshot(path=str(path))
    return path


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's chromium, installed by the project's script when missing (needs root and apt)."""
    proc = subprocess.run(
        ["bash", str(INSTALL_BROWSER)], capture_output=True, text=True, timeout=1200, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"scripts/install_browser.sh failed ({proc.returncode}); install Debian's chromium or set "
            f"CHROMIUM=/path/to/chromium:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout.strip().splitlines()[-1]


def _conn_json(emulator: Emulator) -> str:
    """The README's recommended form: host name + port + scheme, every value the emulator's."""
    port = emulator.url.rsplit(":", 1)[1]
    return json.dumps(
        {
            "conn_type": "lakeformation",
            "host": "127.0.0.1",
            "port": int(port),
            "login": EMULATOR_AK,
            "password": EMULATOR_SK,
            "extra": {
                "scheme": "http",
                "project_id": EMULATOR_PROJECT_ID,
                "instance_id": EMULATOR_INSTANCE_ID,
                "max_retries": 2,
                "retry_min_wait": 0.2,
                "retry_max_wait": 1,
            },
        }
    )


@pytest.fixture(scope="module")
def ui_stack(migrated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    """Emulator + api-server, and one finished discovery run made by ``dag.test()`` meanwhile."""
    base = tmp_path_factory.mktemp("ui")
    home = new_airflow_home(base, migrated_db)
    group = ProcessGroup(base)
    try:
        emulator = start_emulator_process(group, run_seconds=2.0, submit_seconds=0.3)
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        env = airflow_env(
            home,
            None,  # lakeformation_default lives in the metadata DB, where the UI lists it
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API__WORKERS="1",
        )
        conn_json = _conn_json(emulator)
        add = subprocess.run(
            airflow_cli("connections", "add", "lakeformation_default", "--conn-json", conn_json),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert add.returncode == 0, add.stdout + add.stderr
        started = time.monotonic()
        group.start("api-server", airflow_cli("api-server"), env)
        runner = group.start("dag-test", [sys.executable, str(RUNNER), DAG_ID], env)
        try:
            wait_http(f"{api}/api/v2/version", timeout=300, proc=group.procs["api-server"])
            runner.wait(timeout=600)
        except Exception as exc:
            names = ("api-server", "dag-test", "emulator")
            logs = "\n".join(f"--- {n}\n{group.log(n)[-3000:]}" for n in names)
            raise AssertionError(f"UI stack did not come up: {exc}\n{logs}") from exc
        result = parse_result(group.log("dag-test"))
        assert result["state"] == "success", result
        print(f"api-server up and discovery run done in {time.monotonic() - started:.1f}s")
        yield UiStack(api=api, emulator=emulator, group=group, run=result)
    finally:
        group.close()


@pytest.fixture(scope="module")
def browser(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One headless Chromium with a fresh profile for the module."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.set_default_navigation_timeout(UI_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


# ------------------------------------------------------------------------------------- helpers


def open_add_form(page: Page, api: str, conn_id: str) -> Locator:
    """Admin > Connections > Add Connection, id typed and the LakeFormation type chosen."""
    from playwright.sync_api import expect

    page.goto(f"{api}/connections", wait_until="domcontentloaded")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Connection ID").fill(conn_id)
    combo = dialog.get_by_role("combobox")
    combo.click()
    combo.fill("LakeFormation")
    page.get_by_role("option", name=TYPE_LABEL).click()
    expect(dialog.get_by_text("Standard Fields", exact=True)).to_be_visible()
    expect(dialog.locator("input[name=host]")).to_be_visible()
    return dialog


def open_extra_fields(page: Page, dialog: Locator) -> None:
    from playwright.sync_api import expect

    dialog.get_by_text("Extra Fields", exact=True).click()
    expect(dialog.locator("#element_instance_id")).to_be_visible()


def row_label(dialog: Locator, text: str) -> Locator:
    """The form label whose text is ``text`` (a required field's label ends in ``*``)."""
    return dialog.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def fill_connection(page: Page, dialog: Locator, emulator: Emulator, secret: str) -> None:
    """Fill the form the README recommends: host name, port, scheme http, AK/SK, the two ids."""
    dialog.locator("input[name=host]").fill("127.0.0.1")
    dialog.locator("input[name=port]").fill(emulator.url.rsplit(":", 1)[1])
    dialog.locator("input[name=login]").fill(EMULATOR_AK)
    dialog.locator("input[name=password]").fill(secret)
    open_extra_fields(page, dialog)
    dialog.locator("#element_project_id").fill(EMULATOR_PROJECT_ID)
    dialog.locator("#element_instance_id").fill(EMULATOR_INSTANCE_ID)
    dialog.locator("#element_scheme").click()
    page.get_by_role("option", name="http", exact=True).click()


def press_test(page: Page, api: str, conn_id: str) -> dict[str, Any]:
    """The Test button of ``conn_id``'s row; returns the API's answer, with the toast on screen."""
    from playwright.sync_api import expect

    page.goto(f"{api}/connections", wait_until="domcontentloaded")
    row = page.get_by_role("row").filter(has=page.get_by_text(conn_id, exact=True))
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name="Test Connection").click()
    response = answer.value
    body: dict[str, Any] = response.json() if response.ok else {"status": False, "message": response.text}
    expect(page.get_by_text(re.compile(r"Connection", re.I)).last).to_be_visible()
    return {"http_status": response.status, **body}


# --------------------------------------------------------------------------------------- tests


def test_connection_form_renders_every_field(ui_stack: UiStack, page: Page) -> None:
    from playwright.sync_api import expect

    dialog = open_add_form(page, ui_stack.api, UI_CONN_ID)
    for field in ("host", "login", "password", "port"):
        label = UI_FIELD_BEHAVIOUR["relabeling"].get(field, field.capitalize())
        expect(row_label(dialog, label)).to_be_visible()
        placeholder = UI_FIELD_BEHAVIOUR["placeholders"][field]
        expect(dialog.locator(f"input[name={field}]")).to_have_attribute("placeholder", placeholder)
    expect(dialog.locator("input[name=schema]")).to_have_count(0)  # hidden: unused
    expect(dialog.locator("input[name=password]")).to_have_attribute("type", "password")
    shot(dialog, "01-connection-form-standard-fields.png")

    open_extra_fields(page, dialog)
    for field in CONN_FIELDS.values():
        expect(row_label(dialog, field["label"])).to_be_visible()
        if field.get("description"):
            expect(dialog.get_by_text(field["description"], exact=True)).to_be_visible()
    text = dialog.inner_text()
    assert not re.search(r"\bnull\b", text, re.I), text
    for required in ("project_id", "instance_id"):
        label = row_label(dialog, CONN_FIELDS[required]["label"])
        expect(label.locator(".chakra-field__requiredIndicator")).to_be_visible()
    expect(dialog.locator("#element_auth_type")).to_contain_text("aksk")
    expect(dialog.locator("#element_scheme")).to_contain_text("https")
    expect(dialog.locator("input[name=element_verify]")).to_be_checked()
    expect(dialog.locator("input[name=element_security_token]")).to_have_attribute("type", "password")
    expect(dialog.get_by_role("button", name="Save")).to_be_disabled()  # the ids are still empty
    shot(dialog, "02-connection-form-extra-fields.png")

    dialog.locator("#element_auth_type").click()
    options = page.get_by_role("option")
    expect(options).to_have_count(3)
    assert [o.strip() for o in options.all_inner_texts()] == ["aksk", "iam", "token"]
    shot(page, "03-auth-type-options.png")
    page.keyboard.press("Escape")


def test_saved_connection_passes_test_button(ui_stack: UiStack, page: Page) -> None:
    from playwright.sync_api import expect

    dialog = open_add_form(page, ui_stack.api, UI_CONN_ID)
    fill_connection(page, dialog, ui_stack.emulator, EMULATOR_SK)
    shot(dialog, "04-connection-form-filled.png")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has=page.get_by_text(UI_CONN_ID, exact=True))).to_be_visible()

    result = press_test(page, ui_stack.api, UI_CONN_ID)
    assert result["http_status"] == 200, result
    assert result["status"] is True, result
    assert f"Connected to LakeFormation instance {EMULATOR_INSTANCE_ID}" in result["message"]
    expect(page.get_by_text(result["message"])).to_be_visible()
    shot(page, "05-test-button-success.png")
    assert EMULATOR_SK not in page.content()

    cli_result = press_test(page, ui_stack.api, "lakeformation_default")
    assert cli_result["status"] is True, cli_result

    # The edit form shows the stored secret masked, never the SK itself (a fresh list: no tooltip
    # of the Test button left over the row).
    page.goto(f"{ui_stack.api}/connections", wait_until="domcontentloaded")
    row = page.get_by_role("row").filter(has=page.get_by_text(UI_CONN_ID, exact=True))
    row.get_by_role("button", name="Edit Connection").click()
    edit = page.get_by_role("dialog")
    password = edit.locator("input[name=password]")
    expect(password).to_have_attribute("type", "password")
    assert password.input_value() != EMULATOR_SK
    assert EMULATOR_SK not in page.content()
    page.keyboard.press("Escape")


def test_wrong_secret_fails_test_button_with_a_reason(ui_stack: UiStack, page: Page) -> None:
    from playwright.sync_api import expect

    dialog = open_add_form(page, ui_stack.api, WRONG_SK_CONN_ID)
    fill_connection(page, dialog, ui_stack.emulator, "not-the-secret-key")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has=page.get_by_text(WRONG_SK_CONN_ID, exact=True))).to_be_visible()

    result = press_test(page, ui_stack.api, WRONG_SK_CONN_ID)
    assert result["http_status"] == 200, result
    assert result["status"] is False, result
    message = result["message"]
    first, second = message.splitlines()  # what is wrong, then the service's reply: two lines
    assert "rejected the AK/SK signature" in first, message
    assert "permission" not in message
    assert second.startswith("HTTP 403"), message
    assert "not-the-secret-key" not in message
    assert WRONG_SK_CONN_ID not in message  # Airflow tests a copy under a temporary id: name none
    expect(page.get_by_text(first, exact=False)).to_be_visible()
    shot(page, "06-test-button-wrong-secret.png")


def test_extra_link_opens_console_page_of_the_run(ui_stack: UiStack, page: Page) -> None:
    from playwright.sync_api import expect

    run_id = ui_stack.run["run_id"]
    job_id = ui_stack.run["xcom"][START]["return_value"]
    console_url = ui_stack.run["xcom"][START]["console_url"]
    # The link names the run this task started (its start_time), not just the job.
    assert re.fullmatch(rf"{re.escape(ui_stack.emulator.url)}/console/jobs/{job_id}\?run=\d+", console_url)
    page.goto(
        f"{ui_stack.api}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{START}/details",
        wait_until="domcontentloaded",
    )
    link = page.get_by_role("link", name="LakeFormation Job")
    expect(link).to_have_attribute("href", console_url)
    shot(page, "07-task-details-extra-link.png")

    with page.context.expect_page() as opened:
        link.click()
    console = opened.value
    try:
        console.wait_for_load_state("domcontentloaded")
        assert console.url == console_url
        expect(console.locator("body")).to_contain_text(job_id)
        selected = console.locator("tr.selected")  # the page highlights the run the link names
        expect(selected).to_have_count(1)
        expect(selected).to_contain_text("SUCCESS")
        expect(console.locator(".notice")).to_have_count(0)  # no "No run ... in this job's history"
        shot(console, "08-emulator-console-page.png")
    finally:
        console.close()
    # The page is the emulator's, served without credentials, as a person following the link gets it.
    assert requests.get(console_url, timeout=30).status_code == 200
