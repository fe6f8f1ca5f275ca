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
        "footer": "DataLab Normandie — Région Normandie et ses 21 partenaires",
        "service_dashboards": "Tableaux de bord",
        "dash_title": "Tableaux de bord",
        "dash_intro": "Les tableaux de bord publiés pour vous par les analystes des partenaires DataLab.",
        "dash_search": "Rechercher (titre, partenaire, description)",
        "dash_search_button": "Rechercher",
        "dash_none": "Aucun tableau de bord n'est publié pour vous pour l'instant.",
        "dash_no_match": "Aucun tableau de bord ne correspond à « {query} ».",
        "dash_open": "Ouvrir le tableau de bord",
        "dash_meta": "{partner} — version {version}",
        "dash_no_preview": "Aperçu indisponible",
        "dash_busy_title": "Tableau de bord très demandé",
        "dash_busy": (
            "Ce tableau de bord est très consulté en ce moment. Merci de réessayer dans "
            "un instant : cette page se recharge d'elle-même dans {seconds} secondes."
        ),
        "dash_retry": "Réessayer maintenant",
        "dash_forbidden_title": "Accès refusé",
        "dash_forbidden": (
            "Ce tableau de bord n'est pas publié pour vous. Si vous pensez devoir y accéder, "
            "contactez {contact}."
        ),
        "dash_not_found_title": "Tableau de bord introuvable",
        "dash_not_found": "Ce tableau de bord n'existe pas ou n'est plus publié.",
        "dash_unavailable_title": "Tableau de bord indisponible",
        "dash_unavailable": (
            "Ce tableau de bord ne peut pas démarrer pour le moment. Réessayez plus tard "
            "ou contactez {contact}."
        ),
        "dash_error": (
            "Ce tableau de bord a rencontré une erreur et ne peut pas s'afficher entièrement. "
            "Son auteur dispose du détail de l'erreur ; réessayez plus tard ou contactez-le."
        ),
        "dash_back": "Retour aux tableaux de bord",
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
        "footer": "DataLab Normandie — the Normandy Region and its 21 partners",
        "service_dashboards": "Dashboards",
        "dash_title": "Dashboards",
        "dash_intro": "Dashboards published for you by the analysts of DataLab's partners.",
        "dash_search": "Search (title, partner, description)",
        "dash_search_button": "Search",
        "dash_none": "No dashboard is published for you yet.",
        "dash_no_match": "No dashboard matches '{query}'.",
        "dash_open": "Open the dashboard",
        "dash_meta": "{partner} — version {version}",
        "dash_no_preview": "No preview",
        "dash_busy_title": "Dashboard in high demand",
        "dash_busy": (
            "This dashboard is in high demand right now. Please try again in a moment: "
            "this page reloads itself in {seconds} seconds."
        ),
        "dash_retry": "Try again now",
        "dash_forbidden_title": "Access denied",
        "dash_forbidden": (
            "This dashboard is not published for you. If you think you should see it, "
            "contact {contact}."
        ),
        "dash_not_found_title": "Dashboard not found",
        "dash_not_found": "This dashboard does not exist or is no longer published.",
        "dash_unavailable_title": "Dashboard unavailable",
        "dash_unavailable": (
            "This dashboard cannot start right now. Try again later or contact {contact}."
        ),
        "dash_error": (
            "This dashboard ran into an error and cannot be shown entirely. Its author has "
            "the details; try again later or contact them."
        ),
        "dash_back": "Back to the dashboards",
    },
}


def text(language: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``language`` (``fr`` or ``en``) with ``values`` filled in.
    Raises ``KeyError`` for an unknown key or language."""
    return CATALOGUE[language][key].format(**values)
