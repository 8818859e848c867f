"""The baseline of the callback benchmark: a bare Flask endpoint on the same gunicorn settings."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/wechat/callback")
def bare():
    request.get_data()
    return "success"


@app.get("/bare/<step>")
def bare_step(step):
    """One GET per step of the shift-start baseline (bench/shift_start.py)."""
    return "ok"
