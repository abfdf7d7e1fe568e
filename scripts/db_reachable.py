"""Exit 0 if the PostgreSQL server named by the URL in argv[1] answers, else 1."""

import sys

import dj_database_url
import psycopg


def main(url: str) -> int:
    db = dj_database_url.parse(url)
    try:
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 5432),
            user=db["USER"] or None,
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
