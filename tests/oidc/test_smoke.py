from tests.factories import Flow


def test_full_code_flow_returns_tokens(client, factories):
    person = factories.account()
    portal = factories.portal()
    flow = Flow(client, portal)
    tokens = flow.tokens(person)
    assert tokens["token_type"].lower() == "bearer"
    assert "id_token" in tokens and "refresh_token" in tokens
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.get_json()["email"] == person.email
