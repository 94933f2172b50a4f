import explain


def test_all_is_complete_and_importable():
    public = {name for name in dir(explain) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(explain, name)).__name__ == "module"}
    assert set(explain.__all__) == public - modules
    for name in explain.__all__:
        assert getattr(explain, name) is not None
