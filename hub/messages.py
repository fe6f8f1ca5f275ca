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
        "docker_volume": "Préparation de votre dossier personnel (volume {volume})…",
        "docker_container": "Démarrage du conteneur {container}…",
        "docker_waiting": "Conteneur démarré : attente du serveur JupyterLab…",
        "docker_failed": "Docker n'a pas pu démarrer votre lab : {reason}",
        "footer": "DataLab Normandie — Région Normandie et ses 21 partenaires",
        "login_oidc_intro": (
            "Connectez-vous avec le compte de votre établissement : "
            "DataLab Hub reconnaît votre partenaire à partir de ce compte."
        ),
        "login_with": "Se connecter avec {provider}",
        "error_title": "Erreur {code}",
        "refused_title": "Accès refusé",
        "refused_no_partner": (
            "Votre compte n'est rattaché à aucun partenaire DataLab : "
            "contactez {contact} pour demander votre rattachement."
        ),
        "refused_claim_missing": (
            "Votre fournisseur d'identité n'a pas indiqué votre établissement de rattachement : "
            "contactez {contact}."
        ),
        "refused_bad_claim": (
            "Les informations transmises par votre fournisseur d'identité sont illisibles "
            "ou mal formées : contactez {contact}."
        ),
        "refused_bad_username": (
            "Votre identifiant, tel que transmis par votre fournisseur d'identité, est absent "
            "ou contient des caractères non acceptés (lettres sans accent, chiffres, « . », "
            "« _ », « - », « @ ») : contactez {contact}."
        ),
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
        "docker_volume": "Preparing your home folder (volume {volume})…",
        "docker_container": "Starting container {container}…",
        "docker_waiting": "Container started: waiting for the JupyterLab server…",
        "docker_failed": "Docker could not start your lab: {reason}",
        "footer": "DataLab Normandie — the Normandy Region and its 21 partners",
        "login_oidc_intro": (
            "Sign in with your organisation's account: "
            "DataLab Hub recognises your partner from it."
        ),
        "login_with": "Sign in with {provider}",
        "error_title": "Error {code}",
        "refused_title": "Access refused",
        "refused_no_partner": (
            "Your account belongs to no DataLab partner: contact {contact} to be attached to one."
        ),
        "refused_claim_missing": (
            "Your identity provider did not say which organisation you belong to: contact {contact}."
        ),
        "refused_bad_claim": (
            "The information sent by your identity provider is unreadable or malformed: "
            "contact {contact}."
        ),
        "refused_bad_username": (
            "Your username, as sent by your identity provider, is missing or holds characters "
            "that are not accepted (unaccented letters, digits, '.', '_', '-', '@'): contact {contact}."
        ),
    },
}


def text(language: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``language`` (``fr`` or ``en``) with ``values`` filled in.
    Raises ``KeyError`` for an unknown key or language."""
    return CATALOGUE[language][key].format(**values)
