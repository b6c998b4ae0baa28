"""harness models --provider openai [--base-url URL] [--json]"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from harness.cli.common import add_trust_options, with_trust


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list an endpoint's models with their shutdown dates, fine-tunes and jobs",
                       description="List the models GET /v1/models gives, with the shutdown_date of those retiring "
                                   "(a fine-tune shuts down with its base), each fine-tune's base model, and the "
                                   "fine-tuning jobs' state where the server has them.")
    p.add_argument("--provider", default="openai", choices=("openai",), help="only openai-compatible endpoints (default)")
    p.add_argument("--base-url", metavar="URL", help="OpenAI-compatible endpoint (default OPENAI_BASE_URL or api.openai.com)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR", help="environment variable with the key")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_trust_options(p, data=False)  # --allow-key-host: where the key may go
    p.set_defaults(func=with_trust(main))


def main(args: argparse.Namespace) -> int:
    import openai

    from harness.core.errors import EnvironmentFailure, HarnessError
    from harness.migrate.retiring import format_listing, list_account

    try:
        listing = list_account(args.base_url, args.api_key_env, trust=args.trust)
    except openai.APIConnectionError as e:
        # The environment failed, not the input nor any example: exit 4, as for a tracking store that is down.
        raise EnvironmentFailure(f"models: cannot reach {args.base_url or 'the endpoint'}: {e.message}") from None
    except openai.APIStatusError as e:
        raise HarnessError(f"models: HTTP {e.status_code} from GET /models: {e.message}") from None
    if args.json:
        print(json.dumps({"base_url": listing.base_url, "models": [asdict(m) for m in listing.models],
                          "jobs": listing.jobs, "jobs_note": listing.jobs_note}, indent=2))
    else:
        print(format_listing(listing))
    return 0
