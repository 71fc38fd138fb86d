from services.ledger.app import build

build().main()
