from services.core.settings import Settings
from services.core.workers import serve


def run_worker() -> None:
    from services.ingest.app import rt  # in the worker only: the supervisor stays small

    rt.main()


serve("ingest", Settings(service="ingest").workers, run_worker)
