from services.classify.app import rt

rt.main()
