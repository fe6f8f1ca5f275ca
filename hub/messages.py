"""User-facing texts, French by default, English available (``hub.language``).

Templates receive the catalogue of the deployment's language as ``t``; Python code calls
:func:`text`.
"""

CATALOGUE: dict[str, dict[str, str]] = {
    "fr": {
        "site_name": "DataLab Hub",
        "site_tagline": "Le hub de notebooks de DataLab Normandie",
        "login_title": "Connexion",
        "login_intro": "Connectez-vous avec le compte que vous a remis votre partenaire.",
        "username": "Identifiant",
        "password": "Mot de passe",
        "sign_in": "Se connecter",
        "login_failed": "Identifiant ou mot de passe incorrect.",
        "demo_notice": "Démonstration : comptes analyste1, analyste2 et decideur1.",
        "home_title": "Mon espace",
        "home_start": "Démarrer mon lab",
        "home_open": "Ouvrir mon lab",
        "home_stop": "Arrêter mon lab",
        "home_no_lab": (
            "Votre rôle ne comprend pas de lab JupyterLab : "
            "les tableaux de bord publiés pour vous s'ouvrent dans le navigateur."
        ),
        "home_partners": "Vos partenaires",
        "home_token": "Jetons d'accès",
        "logout": "Se déconnecter",
        "admin": "Administration",
        "spawn_title": "Choisir un environnement",
        "spawn_submit": "Démarrer",
        "spawn_resources": "{cpu} cœur(s), {memory} de mémoire",
        "profile_forbidden": (
            "Le profil « {profile} » n'est pas ouvert à votre partenaire. "
            "Profils autorisés : {allowed}."
        ),
        "profile_unknown": "Profil « {profile} » inconnu. Profils autorisés : {allowed}.",
        "no_profile": (
            "Aucun profil de lab n'est ouvert à votre partenaire : contactez {contact}."
        ),
        "no_partner": (
            "Votre compte n'est rattaché à aucun partenaire DataLab : contactez {contact}."
        ),
        "bad_option": "Option « {option} » non reconnue. Options acceptées : {allowed}.",
        "slurm_fieldset": "Ressources demandées sur {cluster}",
        "slurm_field_partition": "Partition",
        "slurm_field_account": "Compte Slurm",
        "slurm_field_qos": "QOS",
        "slurm_field_cores": "Cœurs",
        "slurm_field_memory": "Mémoire",
        "slurm_field_gpus": "GPU",
        "slurm_field_walltime": "Durée maximale (H:MM)",
        "slurm_field_invalid": "Champ « {label} » ({field}) refusé : attendu {expected}.",
        "slurm_expect_choice": "une valeur parmi : {allowed}",
        "slurm_expect_integer": "un nombre entier de {min} à {max}",
        "slurm_expect_memory": "un nombre suivi de M ou G, de {min} à {max}",
        "slurm_expect_walltime": "une durée H:MM de {min} à {max}",
        "slurm_no_login": (
            "Votre compte n'est associé à aucun identifiant sur {cluster} : contactez {contact}."
        ),
        "slurm_login_unknown": (
            "Votre identifiant « {login} » n'existe pas sur {cluster} : contactez {contact}."
        ),
        "slurm_submitted": "Job Slurm {job} soumis sur {cluster} (compte {account}, partition {partition}).",
        "slurm_pending": "Job {job} en attente sur {cluster}. Raison Slurm : {reason}{explained}.{start}",
        "slurm_pending_start": " Début prévu : {start}.",
        "slurm_running": "Job {job} démarré sur le nœud {node} ; démarrage du lab…",
        "slurm_refused": "{cluster} a refusé le job : {message}",
        "slurm_unavailable": "{cluster} ne répond pas : {message}",
        "slurm_ended": (
            "Le job {job} s'est arrêté pendant le démarrage (état Slurm : {state}). "
            "Fin de son journal ({log}) : {tail}"
        ),
        "slurm_timeout": (
            "Le lab n'a pas démarré en {seconds} s (job {job}, état Slurm : {state}, "
            "raison : {reason}) : le job a été annulé."
        ),
        "slurm_reason_None": "pas encore examiné par l'ordonnanceur",
        "slurm_reason_Resources": "les ressources demandées ne sont pas libres",
        "slurm_reason_Priority": "des jobs plus prioritaires passent avant",
        "slurm_reason_QOS": "une limite de la QOS est atteinte",
        "slurm_reason_Assoc": "une limite du compte est atteinte",
        "slurm_reason_Partition": "une limite de la partition est atteinte",
        "home_walltime": "Votre lab sur {cluster} s'arrêtera au plus tard à {end} (temps restant : {left}).",
        "home_walltime_warning": "Votre lab s'arrête bientôt : enregistrez votre travail.",
        "footer": "DataLab Normandie — Région Normandie et ses 21 partenaires",
    },
    "en": {
        "site_name": "DataLab Hub",
        "site_tagline": "DataLab Normandie's notebook hub",
        "login_title": "Sign in",
        "login_intro": "Sign in with the account your partner organisation gave you.",
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "login_failed": "Invalid username or password.",
        "demo_notice": "Demo: accounts analyste1, analyste2 and decideur1.",
        "home_title": "My space",
        "home_start": "Start my lab",
        "home_open": "Open my lab",
        "home_stop": "Stop my lab",
        "home_no_lab": (
            "Your role includes no JupyterLab lab: "
            "dashboards published for you open in the browser."
        ),
        "home_partners": "Your partners",
        "home_token": "Access tokens",
        "logout": "Sign out",
        "admin": "Administration",
        "spawn_title": "Choose an environment",
        "spawn_submit": "Start",
        "spawn_resources": "{cpu} core(s), {memory} of memory",
        "profile_forbidden": (
            "Profile '{profile}' is not open to your partner. Allowed profiles: {allowed}."
        ),
        "profile_unknown": "Unknown profile '{profile}'. Allowed profiles: {allowed}.",
        "no_profile": "No lab profile is open to your partner: contact {contact}.",
        "no_partner": "Your account belongs to no DataLab partner: contact {contact}.",
        "bad_option": "Unknown option '{option}'. Accepted options: {allowed}.",
        "slurm_fieldset": "Resources requested on {cluster}",
        "slurm_field_partition": "Partition",
        "slurm_field_account": "Slurm account",
        "slurm_field_qos": "QOS",
        "slurm_field_cores": "Cores",
        "slurm_field_memory": "Memory",
        "slurm_field_gpus": "GPUs",
        "slurm_field_walltime": "Walltime (H:MM)",
        "slurm_field_invalid": "Field '{label}' ({field}) refused: expected {expected}.",
        "slurm_expect_choice": "one of: {allowed}",
        "slurm_expect_integer": "a whole number from {min} to {max}",
        "slurm_expect_memory": "a number followed by M or G, from {min} to {max}",
        "slurm_expect_walltime": "a duration H:MM from {min} to {max}",
        "slurm_no_login": "Your account is mapped to no login on {cluster}: contact {contact}.",
        "slurm_login_unknown": "Your login '{login}' does not exist on {cluster}: contact {contact}.",
        "slurm_submitted": "Slurm job {job} submitted to {cluster} (account {account}, partition {partition}).",
        "slurm_pending": "Job {job} pending on {cluster}. Slurm reason: {reason}{explained}.{start}",
        "slurm_pending_start": " Expected start: {start}.",
        "slurm_running": "Job {job} running on node {node}; starting the lab…",
        "slurm_refused": "{cluster} refused the job: {message}",
        "slurm_unavailable": "{cluster} does not answer: {message}",
        "slurm_ended": (
            "Job {job} ended while starting (Slurm state: {state}). "
            "End of its log ({log}): {tail}"
        ),
        "slurm_timeout": (
            "The lab did not start within {seconds} s (job {job}, Slurm state: {state}, "
            "reason: {reason}): the job was cancelled."
        ),
        "slurm_reason_None": "not yet examined by the scheduler",
        "slurm_reason_Resources": "the requested resources are busy",
        "slurm_reason_Priority": "jobs of higher priority go first",
        "slurm_reason_QOS": "a QOS limit is reached",
        "slurm_reason_Assoc": "an account limit is reached",
        "slurm_reason_Partition": "a partition limit is reached",
        "home_walltime": "Your lab on {cluster} stops at {end} at the latest ({left} left).",
        "home_walltime_warning": "Your lab stops soon: save your work.",
        "footer": "DataLab Normandie — the Normandy Region and its 21 partners",
    },
}


def text(language: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``language`` (``fr`` or ``en``) with ``values`` filled in.
    Raises ``KeyError`` for an unknown key or language."""
    return CATALOGUE[language][key].format(**values)
