"""The shipped chat page in two headless Chromium tabs: both join presence and chat with each other."""

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import OTHER, unique

ARTIFACTS = Path(__file__).parent / "artifacts"


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,700"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture
def two_tabs():
    drivers = [chromium(), chromium()]
    yield drivers
    for d in drivers:
        d.quit()


def texts(driver, selector):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def test_two_browser_tabs_join_presence_and_chat(server, two_tabs):
    ada, bob = two_tabs
    room = unique("room")
    # The page sends Origin http://127.0.0.1:PORT; OTHER lists no origins, so it accepts any.
    page = f"{server.http}/examples/chat.html?key={OTHER['key']}&room={room}"
    ada.get(page + "&name=ada")
    WebDriverWait(ada, 10).until(lambda d: "ada" in texts(d, "#members li"))
    bob.get(page + "&name=bob")
    WebDriverWait(bob, 10).until(lambda d: {"ada", "bob"} <= set(texts(d, "#members li")))
    WebDriverWait(ada, 10).until(lambda d: {"ada", "bob"} <= set(texts(d, "#members li")))

    ada.find_element(By.ID, "text").send_keys("hello bob")
    ada.find_element(By.ID, "send").click()
    WebDriverWait(bob, 10).until(lambda d: "ada: hello bob" in texts(d, "#log li"))
    bob.find_element(By.ID, "text").send_keys("hi ada")
    bob.find_element(By.ID, "send").click()
    WebDriverWait(ada, 10).until(lambda d: "bob: hi ada" in texts(d, "#log li"))

    ARTIFACTS.mkdir(exist_ok=True)
    ada.save_screenshot(str(ARTIFACTS / "chat-ada.png"))
    bob.save_screenshot(str(ARTIFACTS / "chat-bob.png"))

    bob.close()
    WebDriverWait(ada, 15).until(lambda d: "bob" not in texts(d, "#members li"))
