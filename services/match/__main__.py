from services.match.app import rt

rt.main()
