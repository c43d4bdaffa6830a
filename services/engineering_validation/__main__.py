"""Run engineering-validation: python -m services.engineering_validation"""

from shared.service import serve

from .app import create_app
from .settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
