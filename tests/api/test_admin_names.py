"""The admin page takes a user's name through the same check as `users add` (returns.names)."""

from __future__ import annotations


def test_the_admin_page_refuses_a_name_with_a_line_break(web):
    from alerts.store.db import session_for
    from alerts.store.web_users import user_by_email
    from tests.api.web_helpers import person, post

    admin = person(web, "admin@example.org", "admin")
    answer = post(admin, "/admin/users", {"email": "b@example.org", "role": "viewer", "name": "b\u202eLee\r\nBcc: x"},
                  page="/admin/users")
    assert answer.status_code == 400
    assert "cannot hold control characters or invisible formatting (character 2 is the invisible formatting " \
           "character U+202E)" in answer.text
    with session_for(web.settings.database_url) as s:
        assert user_by_email(s, "b@example.org") is None
