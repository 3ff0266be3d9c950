"""What a user sees: widgets, plotly charts and the papermill reports.

- :mod:`kit.views.ui`: the status bar, order ticket and blotter (ipywidgets).
- :mod:`kit.views.charts`: plotly figures of candles, fills, equity and coverage.
- :mod:`kit.views.report`: notebooks run with papermill and written as HTML.

Views talk to a Session and the store, never to ccxt.
"""
