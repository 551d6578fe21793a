"""The core every stage shares: settings, errors, model provisioning, the artifact workspace,
lineage, the embedders and the helpers the stage CLIs share. It imports no stage (the settings
read the PEFT method registry, which sits below them), and every stage imports it."""
