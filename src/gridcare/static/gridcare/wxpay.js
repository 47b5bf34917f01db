// Inside WeChat: call wx.requestPayment (WeixinJSBridge getBrandWCPayRequest) with the signed parameters the
// server put in #wxpay-params, then go to the receipt, which asks the channel how the payment went.
(function () {
  function pay() {
    var params = JSON.parse(document.getElementById("wxpay-params").textContent);
    var done = document.getElementById("wxpay").dataset.done;
    if (typeof WeixinJSBridge === "undefined") { window.location = done; return; }
    WeixinJSBridge.invoke("getBrandWCPayRequest", params, function () { window.location = done; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("wxpay");
    if (b) b.addEventListener("click", pay);
  });
})();
