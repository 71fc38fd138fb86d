from services.match.app import build

build().main()
