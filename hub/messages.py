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
        "pending_title": "Votre lab démarre",
        "pending_wait": "Vous serez redirigé vers votre lab dès qu'il sera prêt.",
        "pending_log": "Journal du démarrage",
        "pending_cancel": "Annuler le démarrage",
        "pending_cancelling": "Annulation…",
        "pending_requested": "Lab demandé.",
        "pending_cancelled": "Démarrage annulé.",
        "pending_failed": "Échec du démarrage :",
        "pending_ready": "Votre lab est prêt.",
        "stopping_title": "Votre lab s'arrête",
        "stopping_wait": "Vous pourrez le redémarrer dès qu'il sera arrêté.",
        "not_running_title": "Votre lab n'est pas démarré",
        "not_running": "Démarrez-le pour retrouver vos notebooks.",
        "not_running_failed_title": "Le démarrage a échoué",
        "not_running_failed": "Le dernier démarrage de votre lab a échoué :",
        "not_running_retry": "Réessayer",
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
        "slurm_pending_position": " Position dans la file de la partition {partition} : {position} sur {pending}.",
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
        "docker_volume": "Préparation de votre dossier personnel (volume {volume})…",
        "docker_container": "Démarrage du conteneur {container}…",
        "docker_waiting": "Conteneur démarré : attente du serveur JupyterLab…",
        "docker_failed": "Docker n'a pas pu démarrer votre lab : {reason}",
        "share_nav": "Partage",
        "home_idle_notice": (
            "Sans activité pendant {minutes} min, votre lab est arrêté automatiquement ; "
            "vos fichiers sont conservés."
        ),
        "space_nav": "Espace disque",
        "space_title": "Espace disque",
        "space_intro": (
            "La place qu'occupent vos fichiers : votre dossier personnel et les espaces "
            "partagés de vos partenaires et projets. Au-delà du quota indicatif, pensez à "
            "faire du tri."
        ),
        "space_warning": (
            "Un de vos espaces dépasse son quota indicatif : supprimez ou archivez des "
            "fichiers, ou contactez l'équipe DataLab."
        ),
        "space_mine": "Mes espaces",
        "space_everyone": "Tous les espaces (administration)",
        "space_kind": "Type",
        "space_place": "Espace",
        "space_used": "Occupé",
        "space_files": "Fichiers",
        "space_quota": "Quota indicatif",
        "space_no_quota": "aucun",
        "space_over": "Quota dépassé",
        "space_at_least": "au moins",
        "space_kind_home": "Dossier personnel",
        "space_kind_partner": "Espace partenaire",
        "space_kind_project": "Espace projet",
        "space_nothing": "Aucun espace mesuré pour vous sur ce hub.",
        "space_cached": "Mesures mises à jour au plus toutes les {minutes} minute(s).",
        "share_title": "Partager mon lab",
        "share_intro": (
            "Ouvrez votre lab à une personne, à un partenaire ou à un projet de DataLab : "
            "vous travaillez alors à plusieurs dans le même lab, sur les mêmes fichiers. "
            "Vous pouvez retirer un partage à tout moment."
        ),
        "share_new": "Nouveau partage",
        "share_with": "Partager avec",
        "share_people": "Personnes",
        "share_groups": "Partenaires et projets",
        "share_submit": "Partager",
        "share_code_create": "Créer un lien d'invitation",
        "share_code_result": "Lien d'invitation (valable 24 h, pour une personne connectée à DataLab) :",
        "share_mine": "Ce que je partage",
        "share_no_lab": "Votre rôle ne comprend pas de lab : vous n'avez rien à partager.",
        "share_recipient": "Avec",
        "share_since": "Depuis",
        "share_code": "Lien d'invitation",
        "share_code_used": "Utilisé",
        "share_code_expires": "Expire le",
        "share_received": "Partagé avec moi",
        "share_owner": "Lab de",
        "share_via": "Par",
        "share_direct": "vous personnellement",
        "share_open": "Ouvrir le lab de",
        "share_running": "démarré",
        "share_stopped": "arrêté",
        "share_revoke": "Retirer",
        "share_decline": "Refuser",
        "share_none": "Aucun.",
        "share_done": "C'est fait.",
        "share_failed": "Échec :",
        "share_forbidden": (
            "Votre partenaire n'autorise pas le partage des labs (données sensibles). "
            "Vous pouvez ouvrir les labs partagés avec vous."
        ),
        "accept_title": "Accepter l'invitation",
        "accept_intro": "Vous ({user}) êtes invité(e) à ouvrir le lab de {owner}.",
        "accept_not_running": (
            "Ce lab n'est pas démarré : après avoir accepté, demandez à {owner} de le démarrer."
        ),
        "accept_grants": "En acceptant, vous obtenez, pour ce lab uniquement :",
        "accept_submit": "Accepter l'invitation",
        "accept_next": "Vous serez ensuite dirigé(e) vers",
        "oauth_title": "Autoriser l'accès",
        "oauth_intro": (
            "Vous ({user}) allez ouvrir un lab ou un service qui n'est pas le vôtre : "
            "confirmez que vous voulez y accéder avec votre compte DataLab."
        ),
        "oauth_grants": "Cet accès permettra :",
        "oauth_submit": "Autoriser",
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
        "service_reports": "Rapports",
        "reports_title": "Rapports planifiés",
        "reports_intro": (
            "Vos notebooks exécutés automatiquement (papermill), sans lab ouvert, "
            "avec vos droits et vos données."
        ),
        "reports_all_title": "Tous les rapports planifiés",
        "reports_gallery": "Galerie des rapports",
        "reports_gallery_intro": "Les rapports publiés pour vous, du plus récent au plus ancien.",
        "reports_none": "Aucun rapport planifié. Planifiez-en un avec « datalab reports create ».",
        "reports_gallery_none": "Aucun rapport publié pour vous pour l'instant.",
        "reports_run_now": "Lancer maintenant",
        "reports_col_report": "Rapport",
        "reports_col_owner": "Propriétaire",
        "reports_col_notebook": "Notebook",
        "reports_col_parameters": "Paramètres",
        "reports_col_schedule": "Planification",
        "reports_col_next": "Prochaine exécution",
        "reports_col_audience": "Public",
        "reports_col_runs": "Exécutions",
        "reports_col_status": "État",
        "reports_col_started": "Début",
        "reports_col_duration": "Durée",
        "reports_col_outputs": "Résultats",
        "reports_status_queued": "En attente",
        "reports_status_running": "En cours",
        "reports_status_succeeded": "Réussi",
        "reports_status_failed": "Échoué",
        "reports_html": "Rapport",
        "reports_notebook": "Notebook",
        "reports_log": "Journal",
        "reports_seconds": "{seconds} s",
        "reports_audience_all": "Tous les membres",
        "reports_no_run": "Pas encore exécuté",
        "reports_run_queued": "Exécution de « {id} » lancée.",
        "reports_bad_path": (
            "Chemin de notebook refusé : « {path} ». Donnez un chemin relatif vers un "
            "fichier .ipynb de votre espace, de « bibliotheque/ » ou d'un « partenaire-<id>/ »."
        ),
        "reports_not_found": "Notebook introuvable : « {path} ».",
        "reports_unreadable": "Notebook illisible « {path} » : {error}",
        "reports_no_parameters_cell": (
            "Le notebook « {path} » n'a pas de cellule marquée « parameters » : ajoutez ce "
            "tag à la cellule qui définit ses paramètres."
        ),
        "reports_unknown_parameter": (
            "Paramètre « {name} » inconnu du notebook. Paramètres déclarés : {known}."
        ),
        "reports_wrong_type": "Le paramètre « {name} » attend une valeur {expected}, pas {value}.",
        "reports_no_kernel": (
            "Noyau (kernelspec) « {kernel} » introuvable. Noyaux disponibles : {available}."
        ),
        "reports_cell_failed": "La cellule {cell} a échoué : {error}",
        "reports_dead_kernel": (
            "le noyau s'est arrêté brutalement (tué, par exemple faute de mémoire)"
        ),
        "reports_cell_timeout": "la cellule a dépassé le délai de {seconds} s",
        "reports_run_timeout": "L'exécution a dépassé le délai total de {seconds} s et a été arrêtée.",
        "reports_oom": (
            "Mémoire dépassée : le conteneur a atteint la limite de son profil ({memory}) "
            "et le noyau a été tué."
        ),
        "reports_container_failed": "Docker n'a pas pu exécuter le rapport : {reason}",
        "reports_slurm_failed": (
            "Le job Slurm {job} s'est terminé avec l'état {state} (raison Slurm : {reason}, "
            "code de sortie {code})."
        ),
        "reports_slurm_lost": "{cluster} ne connaît plus le job {job} : son état final est inconnu.",
        "reports_slurm_not_entitled": (
            "Aucun partenaire de {owner} n'a de droits sur {cluster} : ce rapport ne peut pas y être exécuté."
        ),
        "reports_interrupted": "Exécution interrompue par l'arrêt du service de rapports.",
        "reports_not_allowed": (
            "Seuls les analystes et les administrateurs peuvent planifier des rapports."
        ),
        "reports_unknown_partner": "Partenaire « {partner} » inconnu. Partenaires déclarés : {known}.",
        "reports_exists": "Un rapport planifié « {id} » existe déjà.",
        "reports_unknown_schedule": "Rapport planifié « {id} » introuvable.",
        "reports_unknown_run": "Exécution {id} introuvable.",
        "reports_busy": "Une exécution de « {id} » est déjà en attente ou en cours.",
        "reports_forbidden": "Ce rapport n'est pas publié pour vous.",
        "reports_not_yours": "Seul le propriétaire du rapport ou un administrateur peut faire cela.",
        "reports_invalid": "Demande invalide : {error}",
        "reports_unknown_owner": "Le propriétaire « {owner} » est inconnu du hub.",
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
        "dash_publish_link": "Publier un notebook",
        "dash_publish_title": "Publier un tableau de bord",
        "dash_publish_intro": (
            "Le notebook est copié au moment de la publication : après l'avoir modifié, "
            "publiez-le à nouveau (même titre) pour en faire une nouvelle version."
        ),
        "dash_publish_notebook": "Notebook de votre espace",
        "dash_publish_choose": "— choisir un notebook —",
        "dash_publish_path": "ou son chemin depuis votre dossier personnel",
        "dash_publish_field_title": "Titre",
        "dash_publish_description": "Description",
        "dash_publish_audience": "Qui peut le voir",
        "dash_publish_all": "Tous les membres de DataLab",
        "dash_publish_some": "Seulement ces partenaires et rôles :",
        "dash_publish_roles": "Rôles",
        "dash_publish_partners": "Partenaires",
        "dash_publish_profile": "Environnement d'exécution",
        "dash_publish_identity_free": (
            "Le résultat ne dépend pas de qui le regarde (des noyaux peuvent être préparés à l'avance)"
        ),
        "dash_publish_submit": "Publier",
        "dash_published": "« {title} » est publié (version {version}).",
        "dash_publish_forbidden": "Seuls les analystes et les administrateurs publient des tableaux de bord.",
        "dash_publish_error": "Publication impossible : {reason}",
        "dash_publish_no_list": "Vos notebooks ne peuvent pas être listés : {reason}",
        "dash_publish_no_notebook": "Choisissez un notebook ou indiquez son chemin.",
        "dash_role_analyst": "Analystes",
        "dash_role_decision-maker": "Décideurs",
        "dash_role_admin": "Administrateurs",
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
        "pending_title": "Your lab is starting",
        "pending_wait": "You will be taken to your lab as soon as it is ready.",
        "pending_log": "Start log",
        "pending_cancel": "Cancel the start",
        "pending_cancelling": "Cancelling…",
        "pending_requested": "Lab requested.",
        "pending_cancelled": "Start cancelled.",
        "pending_failed": "Start failed:",
        "pending_ready": "Your lab is ready.",
        "stopping_title": "Your lab is stopping",
        "stopping_wait": "You can start it again once it has stopped.",
        "not_running_title": "Your lab is not running",
        "not_running": "Start it to get back to your notebooks.",
        "not_running_failed_title": "The start failed",
        "not_running_failed": "The last start of your lab failed:",
        "not_running_retry": "Try again",
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
        "slurm_pending_position": " Position in the queue of partition {partition}: {position} of {pending}.",
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
        "docker_volume": "Preparing your home folder (volume {volume})…",
        "docker_container": "Starting container {container}…",
        "docker_waiting": "Container started: waiting for the JupyterLab server…",
        "docker_failed": "Docker could not start your lab: {reason}",
        "share_nav": "Sharing",
        "home_idle_notice": (
            "After {minutes} min without activity your lab is stopped automatically; "
            "your files are kept."
        ),
        "space_nav": "Disk space",
        "space_title": "Disk space",
        "space_intro": (
            "The space your files take: your home folder and the shared spaces of your "
            "partners and projects. Above the indicative quota, please tidy up."
        ),
        "space_warning": (
            "One of your spaces is above its indicative quota: delete or archive files, "
            "or contact the DataLab team."
        ),
        "space_mine": "My spaces",
        "space_everyone": "All spaces (administration)",
        "space_kind": "Kind",
        "space_place": "Space",
        "space_used": "Used",
        "space_files": "Files",
        "space_quota": "Indicative quota",
        "space_no_quota": "none",
        "space_over": "Over quota",
        "space_at_least": "at least",
        "space_kind_home": "Home folder",
        "space_kind_partner": "Partner space",
        "space_kind_project": "Project space",
        "space_nothing": "No space of yours is measured on this hub.",
        "space_cached": "Measures are refreshed at most every {minutes} minute(s).",
        "share_title": "Share my lab",
        "share_intro": (
            "Open your lab to a person, a partner or a DataLab project: you then work "
            "together in the same lab, on the same files. You can withdraw a share at any "
            "time."
        ),
        "share_new": "New share",
        "share_with": "Share with",
        "share_people": "People",
        "share_groups": "Partners and projects",
        "share_submit": "Share",
        "share_code_create": "Create an invitation link",
        "share_code_result": "Invitation link (valid 24 h, for a person signed in to DataLab):",
        "share_mine": "What I share",
        "share_no_lab": "Your role includes no lab: you have nothing to share.",
        "share_recipient": "With",
        "share_since": "Since",
        "share_code": "Invitation link",
        "share_code_used": "Used",
        "share_code_expires": "Expires",
        "share_received": "Shared with me",
        "share_owner": "Lab of",
        "share_via": "Through",
        "share_direct": "you personally",
        "share_open": "Open the lab of",
        "share_running": "running",
        "share_stopped": "stopped",
        "share_revoke": "Withdraw",
        "share_decline": "Decline",
        "share_none": "None.",
        "share_done": "Done.",
        "share_failed": "Failed:",
        "share_forbidden": (
            "Your partner does not allow sharing labs (sensitive data). "
            "You can open the labs shared with you."
        ),
        "accept_title": "Accept the invitation",
        "accept_intro": "You ({user}) are invited to open {owner}'s lab.",
        "accept_not_running": (
            "This lab is not running: after accepting, ask {owner} to start it."
        ),
        "accept_grants": "By accepting, you are granted, for this lab only:",
        "accept_submit": "Accept the invitation",
        "accept_next": "You will then be taken to",
        "oauth_title": "Authorize access",
        "oauth_intro": (
            "You ({user}) are opening a lab or a service that is not yours: confirm that "
            "you want to access it with your DataLab account."
        ),
        "oauth_grants": "This access will allow:",
        "oauth_submit": "Authorize",
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
        "service_reports": "Reports",
        "reports_title": "Scheduled reports",
        "reports_intro": (
            "Your notebooks run automatically (papermill), with no lab open, "
            "with your rights and your data."
        ),
        "reports_all_title": "All scheduled reports",
        "reports_gallery": "Report gallery",
        "reports_gallery_intro": "Reports published for you, newest first.",
        "reports_none": "No scheduled report. Schedule one with 'datalab reports create'.",
        "reports_gallery_none": "No report published for you yet.",
        "reports_run_now": "Run now",
        "reports_col_report": "Report",
        "reports_col_owner": "Owner",
        "reports_col_notebook": "Notebook",
        "reports_col_parameters": "Parameters",
        "reports_col_schedule": "Schedule",
        "reports_col_next": "Next run",
        "reports_col_audience": "Audience",
        "reports_col_runs": "Runs",
        "reports_col_status": "Status",
        "reports_col_started": "Started",
        "reports_col_duration": "Duration",
        "reports_col_outputs": "Outputs",
        "reports_status_queued": "Queued",
        "reports_status_running": "Running",
        "reports_status_succeeded": "Succeeded",
        "reports_status_failed": "Failed",
        "reports_html": "Report",
        "reports_notebook": "Notebook",
        "reports_log": "Log",
        "reports_seconds": "{seconds} s",
        "reports_audience_all": "All members",
        "reports_no_run": "Not run yet",
        "reports_run_queued": "Run of '{id}' started.",
        "reports_bad_path": (
            "Notebook path refused: '{path}'. Give a relative path to an .ipynb file in "
            "your space, in 'bibliotheque/' or in a 'partenaire-<id>/'."
        ),
        "reports_not_found": "Notebook not found: '{path}'.",
        "reports_unreadable": "Unreadable notebook '{path}': {error}",
        "reports_no_parameters_cell": (
            "Notebook '{path}' has no cell tagged 'parameters': add this tag to the cell "
            "that defines its parameters."
        ),
        "reports_unknown_parameter": (
            "Parameter '{name}' is unknown to the notebook. Declared parameters: {known}."
        ),
        "reports_wrong_type": "Parameter '{name}' expects a {expected} value, not {value}.",
        "reports_no_kernel": "Kernelspec '{kernel}' not found. Available kernels: {available}.",
        "reports_cell_failed": "Cell {cell} failed: {error}",
        "reports_dead_kernel": "the kernel died (killed, for instance out of memory)",
        "reports_cell_timeout": "the cell ran past its {seconds} s timeout",
        "reports_run_timeout": "The run exceeded its {seconds} s overall timeout and was stopped.",
        "reports_oom": (
            "Out of memory: the container reached its profile's limit ({memory}) and the "
            "kernel was killed."
        ),
        "reports_container_failed": "Docker could not run the report: {reason}",
        "reports_slurm_failed": (
            "Slurm job {job} ended in state {state} (Slurm reason: {reason}, exit code {code})."
        ),
        "reports_slurm_lost": "{cluster} no longer knows job {job}: its final state is unknown.",
        "reports_slurm_not_entitled": (
            "None of {owner}'s partners is entitled to {cluster}: this report cannot run there."
        ),
        "reports_interrupted": "Run interrupted: the reports service stopped.",
        "reports_not_allowed": "Only analysts and administrators can schedule reports.",
        "reports_unknown_partner": "Unknown partner '{partner}'. Declared partners: {known}.",
        "reports_exists": "A scheduled report '{id}' already exists.",
        "reports_unknown_schedule": "Scheduled report '{id}' not found.",
        "reports_unknown_run": "Run {id} not found.",
        "reports_busy": "A run of '{id}' is already queued or running.",
        "reports_forbidden": "This report is not published for you.",
        "reports_not_yours": "Only the report's owner or an administrator can do this.",
        "reports_invalid": "Invalid request: {error}",
        "reports_unknown_owner": "Owner '{owner}' is unknown to the hub.",
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
        "dash_publish_link": "Publish a notebook",
        "dash_publish_title": "Publish a dashboard",
        "dash_publish_intro": (
            "The notebook is copied when you publish: after editing it, publish it again "
            "(same title) to make a new version."
        ),
        "dash_publish_notebook": "Notebook from your space",
        "dash_publish_choose": "— choose a notebook —",
        "dash_publish_path": "or its path from your home folder",
        "dash_publish_field_title": "Title",
        "dash_publish_description": "Description",
        "dash_publish_audience": "Who may see it",
        "dash_publish_all": "Every DataLab member",
        "dash_publish_some": "Only these partners and roles:",
        "dash_publish_roles": "Roles",
        "dash_publish_partners": "Partners",
        "dash_publish_profile": "Runtime environment",
        "dash_publish_identity_free": "The output does not depend on who views it (kernels may be prepared in advance)",
        "dash_publish_submit": "Publish",
        "dash_published": "'{title}' is published (version {version}).",
        "dash_publish_forbidden": "Only analysts and admins publish dashboards.",
        "dash_publish_error": "Cannot publish: {reason}",
        "dash_publish_no_list": "Your notebooks cannot be listed: {reason}",
        "dash_publish_no_notebook": "Choose a notebook or give its path.",
        "dash_role_analyst": "Analysts",
        "dash_role_decision-maker": "Decision-makers",
        "dash_role_admin": "Admins",
    },
}


def text(language: str, key: str, /, **values: object) -> str:
    """The text ``key`` in ``language`` (``fr`` or ``en``) with ``values`` filled in.
    Raises ``KeyError`` for an unknown key or language."""
    return CATALOGUE[language][key].format(**values)
