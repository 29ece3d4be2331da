"""Multilingual evaluation: tasks (tasks/), answer extraction (extract.py), language identification
(langid.py), the resumable runner (runner.py), win rates (winrate.py) and transferability (transfer.py).

    labkit eval --task mgsm --languages en,zh --model tiny --limit 20 --json
"""
