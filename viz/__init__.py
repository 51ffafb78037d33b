"""Maps, raid packages and graph exports: what leaves ringmap for investigators and partners.

- :mod:`ringmap.viz.maps` — cell, victims-across-countries and entity maps (offline HTML drawn
  by pyvis through the project's own template, :mod:`ringmap.viz.render`); the victims map is
  the world map of :mod:`ringmap.viz.world`;
- :mod:`ringmap.viz.timeline` — dated events per case and cell, and their timeline pictures;
- :mod:`ringmap.viz.package` — raid packages with rosters, summary and SHA-256 manifest;
- :mod:`ringmap.viz.graphexport` — GraphML, GEXF and node-link JSON.

All of them show nodes through :mod:`ringmap.privacy`: victims pseudonymised, card numbers masked.
"""
