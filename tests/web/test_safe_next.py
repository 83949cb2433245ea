"""Where a sign-in lands (alerts.usecases.signin.safe_next), pure: a path of this site as it
was sent, anything else the status board ('/'). Whatever the text, the result resolves to this
site, at every depth of percent-decoding a server or a browser might apply."""

from __future__ import annotations

from urllib.parse import quote, unquote, urljoin, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from alerts.usecases.signin import safe_next

SITE = "https://kpi.example.org/signin/link"


def stays_here(path: str) -> bool:
    for _ in range(5):
        target = urlsplit(urljoin(SITE, path.replace("\\", "/")))  # browsers read a backslash as a slash
        if target.netloc != "kpi.example.org" or target.scheme != "https" or any(ord(c) < 32 for c in path):
            return False
        path = unquote(path)
    return True


@given(st.text())
def test_any_text_is_itself_or_home_and_home_is_here(text):
    found = safe_next(text)
    assert found in (text, "/")
    assert stays_here(found)


HOSTS = st.sampled_from(["evil.example", "evil.example/indicators/PI1", "127.0.0.1:8000", "evil.example?next=/"])
LEAVING = st.sampled_from(["//", "/\\", "\\\\", "\\/", "/\t/", "/\n/", "/\r/", "https://", "http:", "javascript:",
                           " //", "\t//", "/%2F", "%2F%2F", "/%5C", "/%252F%252F", "/%25252F/", "/%09/", "///",
                           "data:text/html,"])


@given(LEAVING, HOSTS)
def test_a_path_that_leaves_the_site_lands_home(prefix, host):
    assert safe_next(prefix + host) == "/"
    assert safe_next(quote(prefix + host, safe="")) == "/"  # percent-encoded whole: no longer a path


segment = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12)


@given(st.lists(segment, max_size=4), st.dictionaries(segment, segment, max_size=3))
def test_a_path_of_this_site_is_kept_as_sent(segments, query):
    path = "/" + "/".join(segments) + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else "")
    assert safe_next(path) == path


def test_what_is_no_path_at_all_lands_home():
    for nothing in (None, "", 5, "indicators/PI1", "/" + "a" * 2001):
        assert safe_next(nothing) == "/"
