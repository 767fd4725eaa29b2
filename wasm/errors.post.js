// Appended to the Emscripten glue (--post-js). The C++ bindings never throw into JS (that would
// skip C++ destructors and leak); a failing call stores its message and returns an empty value.
// Here every binding is wrapped to turn that message into a JS Error, so callers of the raw module
// see ordinary exceptions.
addOnPostRun(function () {
  var takeError = Module['takeError'];
  function wrap(owner, name) {
    var f = owner[name];
    if (typeof f !== 'function') return;
    owner[name] = function () {
      var r = f.apply(this, arguments);
      var err = takeError();
      if (err) throw new Error(err);
      return r;
    };
  }
  var classes = {
    Model: ['configJson', 'infoJson', 'snapshot', 'weightBytes', 'tokenize', 'decode', 'tokenBytes', 'logits', 'trace', 'valueVectors',
            'attribute', 'prepareSearch', 'searchReady', 'search', 'runWithCache', 'patch', 'patchSweep', 'loadClusters', 'hasClusters',
            'cluster', 'searchStatsStep', 'fillValueIndex', 'clusterStep', 'loadValueIndex'],
    Loader: ['setHeader', 'headerBytes', 'feed', 'finish'],
    Generator: ['next', 'remaining'],
  };
  for (var c in classes) classes[c].forEach(function (m) { wrap(Module[c].prototype, m); });
  wrap(Module['Model'], 'load');
  wrap(Module['Loader'], 'create');
  wrap(Module, 'createGenerator');
});
