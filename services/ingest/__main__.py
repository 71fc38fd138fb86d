from services.core.settings import Settings
from services.core.workers import serve


def run_worker() -> None:
    from services.ingest.app import build  # in the worker only: the supervisor stays small

    build().main()


serve("ingest", Settings(service="ingest").workers, run_worker)
