"""The studies: one package per published table or chapter, above the core, each knowing its paper.

ibm (the IBM study's rows, row-name grammar, recipes), mmaction (MMAction2's speed benchmark: settings, cases,
peers' builders), proxy (the CPU-scale proxy of the IBM study), zoo (params and FLOPs of both tables),
full_scale (what the full tables cost). The core (models, data, train, measure, experiment, runner) imports
nothing from here.
"""
