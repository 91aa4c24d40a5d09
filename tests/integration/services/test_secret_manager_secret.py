"""keikolatam.gitops.secret_manager_secret against the emulator's OVHcloud Secret Manager (Vault KV2-compatible API,
token auth) over real HTTP: create, idempotence, one changed key -> a new version, check mode writes nothing, diff
and -vvv output hold no value, bad input is refused before any request, a refused token is asked once."""

import secrets

from ovh_scenario import Step


def _okms_requests(run):
    """The Secret Manager requests of each step (split by the markers the harness sends before each step)."""
    out, current = {}, None
    for entry in run.log:
        mark = entry.get("query", {}).get("mark") if entry.get("path", "").endswith("/auth/time") else None
        if mark:
            current = out.setdefault(mark, [])
        elif current is not None and entry.get("kind") == "okms":
            current.append((entry["method"], entry["path"].split("/v1/secret/", 1)[1], entry["status"]))
    return out


def test_secret_lifecycle_check_diff_and_no_value_in_output(play, emu):
    i = emu.info
    conn = {"server": i["okms_server"], "okms_id": i["okms_id"], "token": i["okms_token"]}
    values = {"user": "api-" + secrets.token_hex(6), "password": secrets.token_hex(16),
              "host": "pg-%s.example.test" % secrets.token_hex(6), "port": "5432", "database": "keiko_api",
              "sslmode": "require"}
    new_password = secrets.token_hex(16)
    changed = dict(values, password=new_password)
    secret = dict(conn, path="/keiko/api/database/", data=values)
    wrong_token = "okms-" + secrets.token_hex(20)
    run = play([
        Step("create", "secret_manager_secret", secret, diff=True),
        Step("again", "secret_manager_secret", secret, diff=True),
        Step("predict", "secret_manager_secret", dict(secret, data=changed), check=True, diff=True),
        Step("change", "secret_manager_secret", dict(secret, data=changed), diff=True),
        Step("bad", "secret_manager_secret", dict(conn, server="http://secrets.example.test", okms_id="keiko-kms",
                                                  path="keiko/../registry", data={"port": 5432, "user": "keiko-user"}),
             fails=True),
        Step("empty_path", "secret_manager_secret", dict(conn, path="//", data={"user": "keiko-user"}), fails=True),
        Step("refused", "secret_manager_secret", dict(secret, token=wrong_token), fails=True),
        Step("remove_check", "secret_manager_secret", dict(conn, path="keiko/api/database", state="absent"),
             check=True),
        Step("remove", "secret_manager_secret", dict(conn, path="keiko/api/database", state="absent")),
        Step("remove_again", "secret_manager_secret", dict(conn, path="keiko/api/database", state="absent")),
    ], verbosity=3)
    req = _okms_requests(run)
    path = "keiko/api/database"
    keys = sorted(values)

    assert run["create"]["changed"] and run["create"]["secret"] == {
        "path": path, "okms_id": i["okms_id"], "version": 1, "keys": keys, "exists": True}
    assert req["create"] == [("GET", "data/" + path, 404), ("POST", "data/" + path, 200)]
    assert run["create"]["diff"]["after"]["data"] == dict((k, "<redacted, new>") for k in keys)

    assert not run["again"]["changed"] and run["again"]["secret"]["version"] == 1
    assert req["again"] == [("GET", "data/" + path, 200)]

    assert run["predict"]["changed"] and run["predict"]["secret"]["version"] == 2
    assert req["predict"] == [("GET", "data/" + path, 200)], "check mode wrote"
    after = run["predict"]["diff"]["after"]["data"]
    assert after.pop("password") == "<redacted, changed>" and set(after.values()) == {"<redacted>"}

    assert run["change"]["changed"] and run["change"]["secret"]["version"] == 2
    assert [e[0] for e in req["change"]] == ["GET", "POST"]

    msg = run["bad"]["msg"]
    for problem in ("server must be an https URL", "okms_id must be", "path must be", "not a string at port"):
        assert problem in msg, msg
    assert "path must be" in run["empty_path"]["msg"]
    assert req["bad"] == [] and req["empty_path"] == [], "bad input reached the Secret Manager"

    assert "refused the token" in run["refused"]["msg"] and "403" in run["refused"]["msg"]
    assert req["refused"] == [("GET", "data/" + path, 403)], "a refused token was retried"

    assert run["remove_check"]["changed"] and [e[0] for e in req["remove_check"]] == ["GET"]
    assert run["remove"]["changed"] and req["remove"][-1] == ("DELETE", "metadata/" + path, 204)
    assert not run["remove_again"]["changed"] and [e[0] for e in req["remove_again"]] == ["GET"]

    for what, value in dict(values, new_password=new_password, token=i["okms_token"], wrong_token=wrong_token).items():
        if what in ("port", "sslmode", "database"):
            continue  # not secrets, and too common a text to look for
        assert value not in run.output, "%s leaked in the -vvv/diff output" % what
    assert "<redacted, changed>" in run.output
