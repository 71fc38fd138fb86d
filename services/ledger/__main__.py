from services.ledger.app import rt

rt.main()
