"""Packaging for ensemble_research: every setting is read from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

for key in 'version description keywords author author_email'.split():
    if key not in cfg: raise KeyError(f'settings.ini: missing key {key!r}')

licenses = {'apache2': 'Apache-2.0'}  # an SPDX expression: License classifiers are deprecated
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
lic = licenses[cfg['license'].lower()]
requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
min_python = cfg['min_python']

setuptools.setup(
    name=cfg['lib_name'],
    license=lic,
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'],
        'Natural Language :: ' + cfg['language'],
        'Programming Language :: Python :: ' + min_python,
    ],
    url=cfg['git_url'],
    # the data folders (configs, the template) are namespace packages holding only package data
    packages=setuptools.find_namespace_packages(include=['ensemble_research', 'ensemble_research.*']),
    include_package_data=True,
    package_data={'ensemble_research.config.models': ['*.yaml'], 'ensemble_research.config.experiments': ['*.yaml'],
                  'ensemble_research.templates': ['*.ipynb']},
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires='>=' + min_python,
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d'],
        # the ensembles register through the plugin entry point, as a third-party family would
        'ensemble_research.models': ['ensemble = ensemble_research.ensembles.models'],
    },
    version=cfg['version'], description=cfg['description'], keywords=cfg['keywords'],
    author=cfg['author'], author_email=cfg['author_email'],
)
