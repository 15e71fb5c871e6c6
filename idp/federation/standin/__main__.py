"""python -m idp.federation.standin: run the FranceConnect stand-in on its own port."""

from __future__ import annotations

import argparse
import json
import os

from werkzeug.serving import run_simple

from idp.federation.standin import PRESETS
from idp.federation.standin import create_standin_app
from idp.federation.standin import standin_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulateur FranceConnect local (développement).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5200)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="franceconnect")
    parser.add_argument("--idp", default="http://127.0.0.1:5000", help="URL (issuer) of idp")
    parser.add_argument("--client-id", default="idp-local")
    parser.add_argument("--client-secret", default="idp-local-secret-not-for-production")
    parser.add_argument("--alg", choices=["ES256", "RS256"], default=None)
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    parser.add_argument(
        "--upstream", default="franceconnect", help="name of this upstream in idp (UPSTREAMS)"
    )
    args = parser.parse_args(argv)
    config = standin_config(
        args.idp,
        args.port,
        preset=args.preset,
        client_id=args.client_id,
        client_secret=args.client_secret,
        host=args.host,
        id_token_alg=args.alg or PRESETS[args.preset]["algs"][0],
        slow_seconds=args.slow_seconds,
        upstream=args.upstream,
        env=os.environ.get("IDP_ENV"),
    )
    app = create_standin_app(config)
    if args.upstream == "franceconnect":
        settings = f"""  IDP_FRANCECONNECT_ISSUER={config["issuer"]}
  IDP_FRANCECONNECT_CLIENT_ID={args.client_id}
  IDP_FRANCECONNECT_CLIENT_SECRET={args.client_secret}
  IDP_FRANCECONNECT_PRESET={args.preset}"""
    else:
        entry = {
            "name": args.upstream,
            "preset": args.preset,
            "issuer": config["issuer"],
            "client_id": args.client_id,
            "client_secret": args.client_secret,
        }
        settings = f"  IDP_UPSTREAMS='{json.dumps([entry])}'"
    print(f"Simulateur ({args.preset}) : {config['issuer']}\nConfiguration d'idp :\n{settings}")
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
