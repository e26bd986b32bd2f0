"""One real model called two ways: per-invocation sync (`Service.run`, the script loads the
weights for every request) against exposed (`DeepaasModel.predict`, weights loaded once per
replica). The digits model of ``notebooks/models/digits``, deployed from its tutorial FDLs on
an oscar-local answering as Manager v4.1."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

MODEL_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "models" / "digits"


def sync_vs_exposed(sync_calls: int, exposed_calls: int) -> Tuple[List[float], List[float], int]:
    """(sync seconds per call, exposed seconds per call, right answers out of all calls)."""
    import oscar_jupyter as oj
    from oscar_jupyter import local
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(MODEL_DIR))
    import digits

    data = load_digits()
    samples = [digits.dataset_image(x) for x in data.data[-20:]]
    truth = [str(t) for t in data.target[-20:]]
    with tempfile.TemporaryDirectory(prefix="oscar-bench-model-") as tmp:
        lc = local.start(data_dir=os.path.join(tmp, "data"), port=0, password="bench-password", api_version="4.1")
        conn = oj.connect(lc.endpoint, user=lc.user, password=lc.password, id="bench-model")
        try:
            [api_svc] = conn.apply(MODEL_DIR / "digits-exposed.yaml", timeout=600)
            [sync_svc] = conn.apply(MODEL_DIR / "digits-sync.yaml")
            model = api_svc.exposed.deepaas.model("digits")
            sync_svc.run(samples[0])  # the first invocation trains and caches the weights
            model.predict(samples[0])
            right = 0
            sync_times: List[float] = []
            exposed_times: List[float] = []
            for i in range(max(sync_calls, exposed_calls)):
                image = samples[i % len(samples)]
                if i < sync_calls:
                    t0 = time.perf_counter()
                    right += sync_svc.run(image).labels[0] == truth[i % len(samples)]
                    sync_times.append(time.perf_counter() - t0)
                if i < exposed_calls:
                    t0 = time.perf_counter()
                    right += model.predict(image, top_k=3).labels[0] == truth[i % len(samples)]
                    exposed_times.append(time.perf_counter() - t0)
            return sync_times, exposed_times, right
        finally:
            oj.disconnect("bench-model")
            lc.stop()
