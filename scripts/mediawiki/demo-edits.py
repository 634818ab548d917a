#!/usr/bin/env python3
"""Make a few varied changes on the local wiki through its API, for the demo.

Uses the API session of gen-fixtures.py (same MW_PORT / MW_ADMIN_PASSWORD variables).
    MW_PORT=8080 python3 scripts/mediawiki/demo-edits.py [ROUNDS] [PAUSE_SECONDS]
"""
import importlib.util
import os
import sys
import time

os.environ.setdefault("MW_PORT", "8080")
_spec = importlib.util.spec_from_file_location(
    "gen_fixtures", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-fixtures.py"))
g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(g)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    admin = g.Session("Admin")
    admin.login("Admin", g.ADMIN_PASSWORD)
    anon = g.Session("anon", cookies=False)
    stamp = time.strftime("%H%M%S")
    for r in range(rounds):
        page = f"Demo {stamp}-{r}"
        steps = [
            (admin, "edit", dict(title=page, text="Hello from the demo.", summary="create a demo page")),
            (admin, "edit", dict(title=page, appendtext="\nMore text.", summary="expand", minor=1)),
            (anon, "edit", dict(title=page, appendtext="\nAn anonymous line.", summary="anonymous edit")),
            (admin, "edit", dict(title=f"Talk:{page}", text="Discuss here.", summary="start the talk page")),
            (admin, "move", dict(**{"from": page}, to=f"{page} (moved)", reason="demo move")),
        ]
        for sess, action, params in steps:
            sess.post(action, **params)
            print(f"demo-edits: {action} {params.get('title') or params.get('from')}", file=sys.stderr)
            time.sleep(pause)


if __name__ == "__main__":
    main()
