from services.ingest.app import rt

rt.main()
