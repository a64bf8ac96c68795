import ArgumentParser

CPOTUI.main()
