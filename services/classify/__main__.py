from services.classify.app import build

build().main()
