"""Post-training through TRL: recipes (recipe.py), the training set (trainset.py), methods (methods.py),
rewards (rewards.py), checks before launch (validate.py), launching and exports (launch.py) and the
process that trains (worker.py).

    labkit train configs/train/sft-tiny.yaml --set trainer.learning_rate=1e-5 --json
"""
