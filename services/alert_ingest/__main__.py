"""Run alert-ingest: python -m services.alert_ingest"""

from shared.service import serve

from .app import create_app
from .settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
