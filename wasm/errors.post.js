// Appended to the Emscripten glue (--post-js). The C++ bindings never throw into JS (that would
// skip C++ destructors and leak); a failing call stores its message and returns an empty value.
// Here every Embind binding is wrapped to turn that message into a JS Error, so callers of the raw
// module see ordinary exceptions. Bindings are found, not listed: Embind gives each bound free
// function, class function and method a numeric `argCount`, and each class's prototype the
// ClassHandle methods (isAliasOf), so a new binding in wasm/bindings.cpp is wrapped with no edit here.
addOnPostRun(function () {
  var takeError = Module['takeError'];
  function isBinding(f) { return typeof f === 'function' && typeof f.argCount === 'number'; }
  function wrapAll(owner) {
    Object.getOwnPropertyNames(owner).forEach(function (name) {
      var f = Object.getOwnPropertyDescriptor(owner, name).value;  // accessors (HEAPU8...) are not bindings
      if (!isBinding(f) || f === takeError) return;
      owner[name] = function () {
        var r = f.apply(this, arguments);
        var err = takeError();
        if (err) throw new Error(err);
        return r;
      };
    });
  }
  Object.getOwnPropertyNames(Module).forEach(function (name) {
    var v = Object.getOwnPropertyDescriptor(Module, name).value;
    if (typeof v !== 'function' || !v.prototype || typeof v.prototype.isAliasOf !== 'function') return;
    wrapAll(v);            // class functions (Model.load, Loader.create)
    wrapAll(v.prototype);  // methods
  });
  wrapAll(Module);         // free functions (createGenerator, ...)
});
