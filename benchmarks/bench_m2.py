"""M2 (Kingma et al. 2014) against a labelled-only classifier of the same architecture, on 8x8 digits.

Notebook 10's recipe (lvmlib.vae.M2_RECIPE), one seed per run: the seed picks the labelled
digits and the initial weights of both models.  Prints, per labels-per-class setting, the test
accuracy of M2's q(y|x) and of the classifier, and the margin's mean and spread over the seeds.

    PYTHONPATH=$PWD python benchmarks/bench_m2.py            # 5 seeds, 1 / 3 / 10 / 30 labels per class
    PYTHONPATH=$PWD python benchmarks/bench_m2.py --seeds 3 --per-class 10
"""

import argparse
import statistics
import time


import lvmlib
from lvmlib.device import one_thread
from lvmlib.vae import train_label_settings


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--per-class", type=int, nargs="+", default=[1, 3, 10, 30])
    args = ap.parse_args(argv)
    data = lvmlib.load_dataset("digits", binarize=True)
    margins = {k: [] for k in args.per_class}
    with one_thread():
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            res = train_label_settings(data, tuple(args.per_class), seed=seed)
            for k in args.per_class:
                r = res[k]
                margins[k].append(r.m2_accuracy - r.classifier_accuracy)
                print(f"seed {seed} labels/class {k:3d}: M2 {r.m2_accuracy:.3f} classifier {r.classifier_accuracy:.3f} "
                      f"margin {margins[k][-1]:+.3f}", flush=True)
            print(f"seed {seed}: {time.perf_counter() - t0:.1f} s", flush=True)
    print("\nlabels/class  margin (M2 - classifier), mean  sd  min  max over", args.seeds, "seeds")
    for k, m in margins.items():
        sd = statistics.stdev(m) if len(m) > 1 else float("nan")
        print(f"{k:12d}  {statistics.mean(m):+.3f}  {sd:.3f}  {min(m):+.3f}  {max(m):+.3f}")


if __name__ == "__main__":
    main()
