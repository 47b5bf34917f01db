"""A local simulator of Alipay's open platform and WeChat Pay API v3 (the channels we cannot reach from here).

Its own process (``python -m gridcare.channelsim``), no Django: ``keys`` makes the sandbox keys of both sides,
``app`` is the WSGI application (``alipay``, ``wechat``, ``notify``, ``store``, ``pages`` behind it),
``testing`` starts one in a thread for tests. docs/channels.md is the contract.
"""
