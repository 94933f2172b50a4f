import explain


def test_all_is_complete_and_importable():
    public = {name for name in dir(explain) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(explain, name)).__name__ == "module"}
    assert set(explain.__all__) == public - modules
    for name in explain.__all__:
        obj = getattr(explain, name)
        assert callable(obj), name  # every public name is a class or a function
        assert obj.__module__.startswith("explain."), (name, obj.__module__)  # ours, not a re-exported library's
