import threading

from labkit.kvcache import KVCache
from labkit.text import is_cjk, json_objects, strip_reasoning


def test_json_objects_reads_nested_json_after_reasoning():
    text = (
        '<think>maybe {"strategy": "wrong"}</think> Sure! ```json\n{"strategy": "Question", '
        '"state": {"emotion": "sad", "intensity": 3}}\n``` and {broken and {"b": [1, {"c": 2}]}'
    )
    objs = list(json_objects(text))
    assert objs == [{"strategy": "Question", "state": {"emotion": "sad", "intensity": 3}}, {"b": [1, {"c": 2}]}]
    assert list(json_objects("")) == [] and list(json_objects(None)) == []


def test_strip_reasoning_handles_unclosed_and_orphan_tags():
    assert strip_reasoning("<think>long thought never closed") == ""
    assert strip_reasoning("template opened it</think> 42") == "42"
    assert strip_reasoning("a <think>x<think>y</think></think> b") == "a  b"


def test_is_cjk():
    assert is_cjk("中") and is_cjk("か") and is_cjk("한") and is_cjk("！") and not is_cjk("a") and not is_cjk("ก")


def test_kvcache_round_trip_bytes_and_threads(tmp_path):
    cache = KVCache(tmp_path / "c.sqlite")
    k1, k2 = KVCache.key("m", [{"role": "user", "content": "hi"}]), KVCache.key("m", "other")
    assert k1 != k2 and KVCache.key("m", {"b": 1, "a": 2}) == KVCache.key("m", {"a": 2, "b": 1})
    cache.put_many({k1: "text", k2: b"\x00\x01"})
    assert cache.get_many([k1, k2, "missing"]) == {k1: "text", k2: b"\x00\x01"}

    def writer(i):
        cache.put_many({f"k{i}-{j}": str(j) for j in range(50)})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert cache.count() == 2 + 8 * 50 and bool(KVCache(tmp_path / "empty.sqlite"))
    assert len(cache.get_many([f"k{i}-{j}" for i in range(8) for j in range(50)])) == 400  # > one 500-key batch
