"""Synthetic multilingual tasks: a small, honest world where a from-scratch model on a laptop CPU learns for real.

labkit synth mgsm --languages en,zh,sw --n 200 --train 3000 --seed 0 --out DIR
"""
